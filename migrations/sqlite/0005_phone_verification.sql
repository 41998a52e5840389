-- Partner phone-verification API (iDenfy send-sms / verify-sms): API keys with credits,
-- requests (codes only as HMACs; the current code also sealed for the same-code voice call),
-- and the channel history of each request.
CREATE TABLE phone_api_keys (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    credits INTEGER NOT NULL CHECK (credits >= 0),
    revoked_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE phone_verifications (
    id TEXT PRIMARY KEY,
    api_key_id BLOB NOT NULL REFERENCES phone_api_keys (id) ON DELETE CASCADE,
    phone_number TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    code_hmac TEXT NOT NULL,
    code_sealed BLOB,
    expires_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL,
    step INTEGER NOT NULL,
    next_step_at TEXT,
    verified_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX phone_verifications_due_idx ON phone_verifications (next_step_at) WHERE next_step_at IS NOT NULL;
CREATE INDEX phone_verifications_created_idx ON phone_verifications (created_at);

CREATE TABLE phone_verification_deliveries (
    request_id TEXT NOT NULL REFERENCES phone_verifications (id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    channel TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (request_id, step)
);
