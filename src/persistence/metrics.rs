//! What operators watch, read at scrape time: the courier's backlog per channel and this
//! node's pool. Also the identity count that legacy page-number pagination reports.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, dispatch};
use crate::metrics::{Backlog, PoolUsage};

/// Queued messages, and those a worker holds, by channel, with the oldest one's creation time.
const BACKLOG: &str = r#"SELECT channel, COUNT(*) AS depth, MIN(created_at) AS oldest
    FROM courier_messages WHERE status IN ('queued', 'processing') GROUP BY channel"#;
const COUNT_IDENTITIES: &str = "SELECT COUNT(*) FROM identities";

impl Store {
    /// Messages not yet sent, expired or abandoned, per channel, and how long the oldest of
    /// each has waited at `now`.
    pub async fn courier_backlog(&self, now: DateTime<Utc>) -> Result<Vec<Backlog>, StoreError> {
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = dispatch!(self, backlog())?;
        Ok(rows
            .into_iter()
            .map(|(channel, depth, oldest)| Backlog {
                channel,
                depth: depth.max(0) as u64,
                oldest_age_seconds: oldest
                    .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0),
            })
            .collect())
    }

    pub async fn count_identities(&self) -> Result<u64, StoreError> {
        let n: i64 = dispatch!(self, count_identities())?;
        Ok(n.max(0) as u64)
    }

    /// Open and idle connections of this process's pool and its limit.
    pub fn pool_usage(&self) -> PoolUsage {
        match self {
            Self::Postgres(p) => PoolUsage {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.max_connections(),
            },
            Self::Sqlite(p) => PoolUsage {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
        }
    }
}

super::backend_modules! {

    pub async fn backlog(pool: &DbPool) -> Result<Vec<(String, i64, Option<DateTime<Utc>>)>, StoreError> {
        Ok(sqlx::query_as(BACKLOG).fetch_all(pool).await?)
    }

    pub async fn count_identities(pool: &DbPool) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(COUNT_IDENTITIES).fetch_one(pool).await?)
    }
}
