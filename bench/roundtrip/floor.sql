-- The round trip's minimal SQL, the floor the server is compared with: what a verification
-- round trip must write and read at the least, on Verity's own tables, one statement each,
-- prepared. pgbench substitutes :n (an address number) and the \gset results.
\set n random(0, :addresses - 1)
-- Create: the flow row.
INSERT INTO selfservice_flows (id, kind, type, state, request_url, csrf_token, ui, refresh,
    internal_context, issued_at, expires_at, updated_at)
    VALUES (gen_random_uuid(), 'verification', 'api', 'choose_method', 'http://bench/', '',
    '{}', FALSE, '{}', now(), now() + interval '1 hour', now()) RETURNING id AS flow \gset
-- Send: find the address, move the flow on, store the code and its message together.
BEGIN;
SELECT a.id AS address FROM identity_verifiable_addresses a
    WHERE a.via = 'email' AND a.value = 'rt' || :n::text || '@example.com' \gset
UPDATE selfservice_flows SET state = 'sent_email', send_count = send_count + 1,
    updated_at = now() WHERE id = :flow;
INSERT INTO selfservice_flow_challenges (id, flow_id, method, secret_hmac,
    verifiable_address_id, via, expires_at, issued_at)
    VALUES (gen_random_uuid(), :flow, 'code', md5(random()::text), :address, 'email',
    now() + interval '1 hour', now());
INSERT INTO courier_messages (id, type, status, recipient, template_type, subject, body,
    template_data, channel, next_attempt_at, created_at, updated_at)
    VALUES (gen_random_uuid(), 'email', 'queued', 'bench@example.com',
    'verification_code_valid', '\x00', decode(repeat('ab', 600), 'hex'), '\x00', 'email',
    now(), now(), now()) RETURNING id AS message \gset
COMMIT;
-- Courier: claim the message, then record it sent with its dispatch row.
UPDATE courier_messages SET status = 'processing', lease_owner = gen_random_uuid(),
    lease_expires_at = now() + interval '1 minute', claims = claims + 1
    WHERE id = :message;
WITH d AS (INSERT INTO courier_message_dispatches (id, message_id, status, created_at)
    VALUES (gen_random_uuid(), :message, 'success', now()))
UPDATE courier_messages SET status = 'sent', send_count = send_count + 1, lease_owner = NULL,
    updated_at = now() WHERE id = :message;
-- Submit: count the try, consume the code, verify the address, finish the flow.
BEGIN;
UPDATE selfservice_flows SET submit_count = submit_count + 1 WHERE id = :flow RETURNING state;
UPDATE selfservice_flow_challenges SET used_at = now() WHERE flow_id = :flow AND used_at IS NULL;
UPDATE identity_verifiable_addresses SET verified = TRUE, verified_at = now(),
    status = 'completed', updated_at = now() WHERE id = :address;
UPDATE selfservice_flows SET state = 'passed_challenge', updated_at = now() WHERE id = :flow;
COMMIT;
