-- The courier's outbox: one row per message, written in the same transaction as the code it
-- carries, plus one row per delivery attempt. subject, body, html_body and template_data are
-- sealed (AES-256-GCM) so a database dump holds no plaintext code.
CREATE TABLE courier_messages (
    id UUID PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('email', 'sms', 'voice')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'sent', 'abandoned', 'expired')),
    recipient TEXT NOT NULL,
    template_type TEXT NOT NULL,
    subject BYTEA NOT NULL,
    body BYTEA NOT NULL,
    html_body BYTEA,
    template_data BYTEA NOT NULL,
    channel TEXT NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_expires_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- What workers claim: due queued messages and processing ones whose lease ran out.
CREATE INDEX courier_messages_due_idx ON courier_messages (next_attempt_at)
    WHERE status IN ('queued', 'processing');
CREATE INDEX courier_messages_recipient_idx ON courier_messages (recipient, id);
CREATE INDEX courier_messages_status_idx ON courier_messages (status, id);

CREATE TABLE courier_message_dispatches (
    id UUID PRIMARY KEY,
    message_id UUID NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('failed', 'success')),
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX courier_message_dispatches_message_idx ON courier_message_dispatches (message_id, created_at);
