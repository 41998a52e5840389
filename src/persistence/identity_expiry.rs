//! Never-verified identities that have outlived `identity.unverified_lifespan`: an identity
//! that never proved any of its addresses does not hold them against their owner forever
//! (SECURITY.md C2, squatting).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, dispatch};

impl Store {
    /// Removes up to `limit` identities created before `created_before` that have at least one
    /// verifiable address and none verified; their addresses, credentials, sessions and
    /// flows go with them (foreign keys cascade). The number removed.
    pub async fn delete_unverified_identities(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        dispatch!(self, delete_unverified(created_before, limit))
    }

    /// Removes the identity `id` if it is such an identity (created before `created_before`,
    /// never verified); `true` when it was removed. A sign-up naming its address calls this
    /// before giving up on the address as taken.
    pub async fn delete_if_unverified(
        &self,
        id: Uuid,
        created_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, delete_one_unverified(id, created_before))
    }
}

/// The identities that may go: old enough, with addresses, none of them verified.
const EXPIRED: &str = r#"i.created_at < $1
    AND EXISTS (SELECT 1 FROM identity_verifiable_addresses a WHERE a.identity_id = i.id)
    AND NOT EXISTS (SELECT 1 FROM identity_verifiable_addresses a WHERE a.identity_id = i.id AND a.verified)"#;

super::backend_modules! {

    pub async fn delete_unverified(pool: &DbPool, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let sql = format!("DELETE FROM identities WHERE id IN (SELECT i.id FROM identities i WHERE {EXPIRED} LIMIT $2)");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before).bind(i64::from(limit)).execute(pool).await?;
        Ok(done.rows_affected())
    }

    pub async fn delete_one_unverified(pool: &DbPool, id: Uuid, before: DateTime<Utc>) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM identities WHERE id IN (SELECT i.id FROM identities i WHERE {EXPIRED} AND i.id = $2)");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before).bind(id).execute(pool).await?;
        Ok(done.rows_affected() == 1)
    }
}
