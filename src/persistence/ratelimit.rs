//! Rate-limit counters: one row per (key, window), bumped by a single atomic statement.
//!
//! The store knows nothing about rules or hashing; `crate::ratelimit` decides keys and windows
//! and always passes the time in, so tests can move the clock.

use std::fmt::Write as _;

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

    /// Counts one hit for each counter in ONE statement and returns `(key, new count)` per
    /// distinct counter, in key order. Rows are written in (key, window) order so that two
    /// requests bumping overlapping sets lock them in the same order and cannot deadlock; a
    /// counter listed twice counts once (one statement may not update a row twice).
    pub async fn hit_rate_limits(
        &self,
        counters: &[CounterHit<'_>],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut rows: Vec<&CounterHit<'_>> = counters.iter().collect();
        rows.sort_by(|a, b| (a.key, a.window_start).cmp(&(b.key, b.window_start)));
        rows.dedup_by(|a, b| a.key == b.key && a.window_start == b.window_start);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, hit_many(&rows))
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

/// One counter to bump: `key` in the window `[window_start, expires_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterHit<'a> {
    pub key: &'a str,
    pub window_start: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const HIT: &str = r#"INSERT INTO rate_limit_counters (key, window_start, count, expires_at)
    VALUES ($1, $2, 1, $3)
    ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1
    RETURNING count"#;
const HIT_MANY_HEAD: &str =
    "INSERT INTO rate_limit_counters (key, window_start, count, expires_at) VALUES ";
const HIT_MANY_TAIL: &str = r#" ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1
    RETURNING key, count"#;

/// `HIT` over `n` rows: only placeholders are generated, every value is bound.
fn hit_many_sql(n: usize) -> String {
    let mut sql = String::with_capacity(HIT_MANY_HEAD.len() + HIT_MANY_TAIL.len() + n * 20);
    sql.push_str(HIT_MANY_HEAD);
    for i in 0..n {
        let p = i * 3;
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{sep}(${}, ${}, 1, ${})", p + 1, p + 2, p + 3);
    }
    sql.push_str(HIT_MANY_TAIL);
    sql
}

const PEEK: &str = "SELECT count FROM rate_limit_counters WHERE key = $1 AND window_start = $2";
const PURGE: &str = "DELETE FROM rate_limit_counters WHERE expires_at < $1";

super::backend_modules! {

    pub async fn hit(
        pool: &DbPool,
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

    pub async fn hit_many(
        pool: &DbPool,
        rows: &[&CounterHit<'_>],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = hit_many_sql(rows.len());
        let mut query = sqlx::query_as::<_, (String, i32)>(sqlx::AssertSqlSafe(sql));
        for r in rows {
            query = query.bind(r.key).bind(r.window_start).bind(r.expires_at);
        }
        let mut counts: Vec<(String, i64)> = query
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|(k, c)| (k, i64::from(c)))
            .collect();
        counts.sort();
        Ok(counts)
    }

    pub async fn peek(
        pool: &DbPool,
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

    pub async fn purge(pool: &DbPool, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let res = sqlx::query(PURGE).bind(now).execute(pool).await?;
        Ok(res.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hit_many_sql_numbers_three_placeholders_per_row() {
        let sql = super::hit_many_sql(2);
        assert!(
            sql.contains("VALUES ($1, $2, 1, $3), ($4, $5, 1, $6) ON CONFLICT"),
            "{sql}"
        );
        assert!(sql.ends_with("RETURNING key, count"));
    }
}
