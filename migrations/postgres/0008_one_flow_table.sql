-- Every self-service flow kind lives in `selfservice_flows`: verification flows move in, and
-- the counters and the address of a code-sending flow become columns of their own.
ALTER TABLE selfservice_flows ADD COLUMN active_method TEXT;
ALTER TABLE selfservice_flows ADD COLUMN via TEXT;
ALTER TABLE selfservice_flows ADD COLUMN sent_to TEXT;
ALTER TABLE selfservice_flows ADD COLUMN submit_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE selfservice_flows ADD COLUMN send_count INTEGER NOT NULL DEFAULT 0;

INSERT INTO selfservice_flows (id, kind, type, state, request_url, return_to, csrf_token, ui,
    identity_id, refresh, internal_context, issued_at, expires_at, updated_at, active_method,
    via, sent_to, submit_count, send_count)
SELECT id, 'verification', type, state, request_url, return_to, csrf_token, ui, NULL, FALSE,
    '{}'::jsonb, issued_at, expires_at, updated_at, active_method, via, NULL, submit_count,
    send_count
FROM selfservice_verification_flows;

-- Codes and link tokens of every flow (verification, recovery, sign-in by code), stored only
-- as HMACs. `identity_id` is whom a recovery or sign-in code proves; `verifiable_address_id`
-- the address that becomes verified when it is used.
CREATE TABLE selfservice_flow_challenges (
    id UUID PRIMARY KEY,
    flow_id UUID NOT NULL REFERENCES selfservice_flows (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    secret_hmac TEXT NOT NULL,
    identity_id UUID REFERENCES identities (id) ON DELETE CASCADE,
    verifiable_address_id UUID REFERENCES identity_verifiable_addresses (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX selfservice_flow_challenges_flow_idx ON selfservice_flow_challenges (flow_id);
CREATE INDEX selfservice_flow_challenges_address_idx
    ON selfservice_flow_challenges (verifiable_address_id);

INSERT INTO selfservice_flow_challenges (id, flow_id, method, secret_hmac, identity_id,
    verifiable_address_id, via, expires_at, issued_at, used_at)
SELECT c.id, c.flow_id, c.method, c.secret_hmac, a.identity_id, c.verifiable_address_id, c.via,
    c.expires_at, c.issued_at, c.used_at
FROM identity_verification_challenges c
LEFT JOIN identity_verifiable_addresses a ON a.id = c.verifiable_address_id;

DROP TABLE identity_verification_challenges;
DROP TABLE selfservice_verification_flows;
CREATE INDEX selfservice_flows_expires_idx ON selfservice_flows (expires_at);
