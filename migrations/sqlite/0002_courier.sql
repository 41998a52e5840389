-- The courier's outbox (SQLite dialect of the same step). UUIDs are BLOBs, timestamps RFC 3339
-- TEXT in UTC; subject, body, html_body and template_data are sealed (AES-256-GCM) BLOBs.
CREATE TABLE courier_messages (
    id BLOB PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('email', 'sms', 'voice')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'sent', 'abandoned', 'expired')),
    recipient TEXT NOT NULL,
    template_type TEXT NOT NULL,
    subject BLOB NOT NULL,
    body BLOB NOT NULL,
    html_body BLOB,
    template_data BLOB NOT NULL,
    channel TEXT NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_expires_at TEXT,
    expires_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX courier_messages_due_idx ON courier_messages (next_attempt_at)
    WHERE status IN ('queued', 'processing');
CREATE INDEX courier_messages_recipient_idx ON courier_messages (recipient, id);
CREATE INDEX courier_messages_status_idx ON courier_messages (status, id);

CREATE TABLE courier_message_dispatches (
    id BLOB PRIMARY KEY,
    message_id BLOB NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('failed', 'success')),
    error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX courier_message_dispatches_message_idx ON courier_message_dispatches (message_id, created_at);
