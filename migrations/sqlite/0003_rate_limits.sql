-- Rate-limit counters (SQLite dialect of the same step). Timestamps are RFC 3339 TEXT in UTC;
-- windows start and end on whole seconds, so equal instants encode to equal strings and
-- `expires_at < $1` compares correctly as text.
CREATE TABLE rate_limit_counters (
    key TEXT NOT NULL,
    window_start TEXT NOT NULL,
    count INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limit_counters_expires_idx ON rate_limit_counters (expires_at);
