-- Login, registration and settings flows share one table; `kind` tells them apart.
CREATE TABLE selfservice_flows (
    id BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token TEXT NOT NULL,
    ui TEXT NOT NULL,
    identity_id BLOB REFERENCES identities (id) ON DELETE CASCADE,
    refresh INTEGER NOT NULL,
    internal_context TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Sessions. Only the SHA-256 digest of the session token is stored; logout tokens are
-- derived from the session id with the server's secret and not stored at all.
CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    active INTEGER NOT NULL,
    aal TEXT NOT NULL,
    authentication_methods TEXT NOT NULL,
    devices TEXT NOT NULL,
    authenticated_at TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sessions_identity_idx ON sessions (identity_id);
