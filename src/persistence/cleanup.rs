//! `verity cleanup sql` (and the optional in-process schedule): removing what has outlived its
//! use, one bounded batch per statement so a live database is never locked for long. Each
//! batch deletes only rows past their end by the time given, so nothing in use goes.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, dispatch};

/// What a cleanup removes, in the order it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupTarget {
    /// Self-service flows (and their codes) that expired before the cutoff.
    ExpiredFlows,
    /// Codes and links used before the cutoff, or expired before it.
    SpentCodes,
    /// Sessions that expired before the cutoff.
    OldSessions,
    /// The sealed texts of messages sent, abandoned or expired before the cutoff.
    SentBodies,
    /// Stored self-service errors created before the cutoff.
    Errors,
    /// Identities created before the cutoff that never verified any of their addresses
    /// (run only when `identity.unverified_lifespan` is set, with its own cutoff).
    UnverifiedIdentities,
}

impl CleanupTarget {
    pub const ALL: [CleanupTarget; 5] = [
        Self::ExpiredFlows,
        Self::SpentCodes,
        Self::OldSessions,
        Self::SentBodies,
        Self::Errors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ExpiredFlows => "expired flows",
            Self::SpentCodes => "used or expired codes",
            Self::OldSessions => "expired sessions",
            Self::SentBodies => "sent message bodies",
            Self::Errors => "self-service errors",
            Self::UnverifiedIdentities => "never-verified identities",
        }
    }
}

const FLOWS: &str = r#"DELETE FROM selfservice_flows WHERE id IN
    (SELECT id FROM selfservice_flows WHERE expires_at < $1 LIMIT $2)"#;
const CODES: &str = r#"DELETE FROM selfservice_flow_challenges WHERE id IN
    (SELECT id FROM selfservice_flow_challenges
     WHERE (used_at IS NOT NULL AND used_at < $1) OR expires_at < $1 LIMIT $2)"#;
const SESSIONS: &str = r#"DELETE FROM sessions WHERE id IN
    (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)"#;
const ERRORS: &str = r#"DELETE FROM selfservice_errors WHERE id IN
    (SELECT id FROM selfservice_errors WHERE created_at < $1 LIMIT $2)"#;

impl Store {
    /// Removes at most `batch` rows of `target` older than `cutoff`; the count removed.
    pub async fn cleanup_batch(
        &self,
        target: CleanupTarget,
        cutoff: DateTime<Utc>,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let sql = match target {
            CleanupTarget::SentBodies => return self.purge_message_bodies(cutoff, batch).await,
            CleanupTarget::UnverifiedIdentities => {
                return self.delete_unverified_identities(cutoff, batch).await;
            }
            CleanupTarget::ExpiredFlows => FLOWS,
            CleanupTarget::SpentCodes => CODES,
            CleanupTarget::OldSessions => SESSIONS,
            CleanupTarget::Errors => ERRORS,
        };
        dispatch!(self, delete_batch(sql, cutoff, batch))
    }
}

super::backend_modules! {

    pub async fn delete_batch(pool: &DbPool, sql: &'static str, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(sql).bind(cutoff).bind(i64::from(batch)).execute(pool).await?;
        Ok(done.rows_affected())
    }
}
