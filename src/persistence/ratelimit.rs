//! Rate-limit counters: one row per (key, window), bumped by a single atomic statement.
//!
//! The store knows nothing about rules or hashing; `crate::ratelimit` decides keys and windows
//! and always passes the time in, so tests can move the clock.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, dispatch};

impl Store {
    /// Counts one hit for `key` in the window starting at `window_start` and returns the new
    /// count. Insert-or-increment is one statement, so concurrent hits never lose an update
    /// (Postgres under READ COMMITTED included).
    pub async fn hit_rate_limit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, hit(key, window_start, expires_at))
    }

    /// The count for `key` in that window, 0 when there is no row. Counts nothing.
    pub async fn peek_rate_limit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        dispatch!(self, peek(key, window_start))
    }

    /// Deletes counters whose window ended before `now`; returns how many. Housekeeping only:
    /// an expired row is never read again, so calling this late changes no decision.
    pub async fn purge_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, purge(now))
    }
}

const HIT: &str = r#"INSERT INTO rate_limit_counters (key, window_start, count, expires_at)
    VALUES ($1, $2, 1, $3)
    ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1
    RETURNING count"#;
const PEEK: &str = "SELECT count FROM rate_limit_counters WHERE key = $1 AND window_start = $2";
const PURGE: &str = "DELETE FROM rate_limit_counters WHERE expires_at < $1";

super::backend_modules! {
    use sqlx::Pool;

    pub async fn hit(
        pool: &Pool<Db>,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        // INTEGER is i32 on Postgres; SQLite decodes it as i32 just as well.
        let count: i32 = sqlx::query_scalar(HIT)
            .bind(key)
            .bind(window_start)
            .bind(expires_at)
            .fetch_one(pool)
            .await?;
        Ok(i64::from(count))
    }

    pub async fn peek(
        pool: &Pool<Db>,
        key: &str,
        window_start: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let count: Option<i32> = sqlx::query_scalar(PEEK)
            .bind(key)
            .bind(window_start)
            .fetch_optional(pool)
            .await?;
        Ok(count.map_or(0, i64::from))
    }

    pub async fn purge(pool: &Pool<Db>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let res = sqlx::query(PURGE).bind(now).execute(pool).await?;
        Ok(res.rows_affected())
    }
}
