-- Login, registration and settings flows share one table; `kind` tells them apart.
CREATE TABLE selfservice_flows (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    request_url TEXT NOT NULL,
    return_to TEXT,
    csrf_token TEXT NOT NULL,
    ui JSONB NOT NULL,
    identity_id UUID REFERENCES identities (id) ON DELETE CASCADE,
    refresh BOOLEAN NOT NULL,
    internal_context JSONB NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Sessions. Only the SHA-256 digest of the session token is stored; logout tokens are
-- derived from the session id with the server's secret and not stored at all.
CREATE TABLE sessions (
    id UUID PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    identity_id UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    active BOOLEAN NOT NULL,
    aal TEXT NOT NULL,
    authentication_methods JSONB NOT NULL,
    devices JSONB NOT NULL,
    authenticated_at TIMESTAMPTZ NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_identity_idx ON sessions (identity_id);
