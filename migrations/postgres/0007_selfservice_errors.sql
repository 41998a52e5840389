-- Errors shown to browsers by the error UI (`GET /self-service/errors?id=`).
CREATE TABLE selfservice_errors (
    id UUID PRIMARY KEY,
    error JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX selfservice_errors_created_at_idx ON selfservice_errors (created_at);
