-- Errors shown to browsers by the error UI (`GET /self-service/errors?id=`).
CREATE TABLE selfservice_errors (
    id BLOB PRIMARY KEY,
    error TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX selfservice_errors_created_at_idx ON selfservice_errors (created_at);
