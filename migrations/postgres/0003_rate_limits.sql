-- Rate-limit counters: one row per (key, fixed window). `key` is "<rule>:<HMAC of the
-- subject>", never an address or IP in clear. A hit is one atomic INSERT .. ON CONFLICT
-- DO UPDATE .. RETURNING count; rows are useless once `expires_at` (the window's end) passes.
CREATE TABLE rate_limit_counters (
    key TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count INTEGER NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key, window_start)
);
-- For the purge (`DELETE .. WHERE expires_at < now`).
CREATE INDEX rate_limit_counters_expires_idx ON rate_limit_counters (expires_at);
