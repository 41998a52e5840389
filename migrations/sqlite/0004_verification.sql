-- Verification flows and their challenges (codes and link tokens, stored only as HMACs).
CREATE TABLE selfservice_verification_flows (
    id BLOB PRIMARY KEY,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    active_method TEXT,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token TEXT NOT NULL,
    ui TEXT NOT NULL,
    via TEXT,
    submit_count INTEGER NOT NULL,
    send_count INTEGER NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE identity_verification_challenges (
    id BLOB PRIMARY KEY,
    flow_id BLOB NOT NULL REFERENCES selfservice_verification_flows (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    secret_hmac TEXT NOT NULL,
    verifiable_address_id BLOB REFERENCES identity_verifiable_addresses (id) ON DELETE CASCADE,
    via TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX identity_verification_challenges_flow_idx ON identity_verification_challenges (flow_id);
