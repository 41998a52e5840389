//! What recovery needs beyond the challenge: who a recovery address belongs to (and whether
//! that identity ever verified an address), and the clean-up when an identity that never
//! proved any address is recovered (its password and sessions go: a squatter's, typically).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, dispatch};

/// The identity a recovery address names, with its verifiable twin (same channel and value)
/// if it has one: recovering through it proves that address too.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecoveryTarget {
    pub identity_id: Uuid,
    pub schema_id: String,
    pub traits: sqlx::types::Json<serde_json::Value>,
    pub state: String,
    pub verifiable_address_id: Option<Uuid>,
}

/// Whom a recovery flow's code proves, and whether that identity had a verified address
/// before the code is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct RecoverySubject {
    pub identity_id: Option<Uuid>,
    pub any_verified: i32,
}

const FIND_TARGET: &str = r#"SELECT r.identity_id, i.schema_id, i.traits, i.state,
    v.id AS verifiable_address_id
    FROM identity_recovery_addresses r JOIN identities i ON i.id = r.identity_id
    LEFT JOIN identity_verifiable_addresses v
      ON v.identity_id = r.identity_id AND v.via = r.via AND v.value = r.value
    WHERE r.via = $1 AND r.value = $2"#;
const SUBJECT: &str = r#"SELECT c.identity_id,
    CASE WHEN EXISTS (SELECT 1 FROM identity_verifiable_addresses a
                      WHERE a.identity_id = c.identity_id AND a.verified = TRUE)
         THEN 1 ELSE 0 END AS any_verified
    FROM selfservice_flow_challenges c WHERE c.flow_id = $1 LIMIT 1"#;
const DELETE_PASSWORD_IDENTIFIERS: &str = r#"DELETE FROM identity_credential_identifiers
    WHERE identity_credential_id IN
      (SELECT id FROM identity_credentials WHERE identity_id = $1 AND type = 'password')"#;
const DELETE_PASSWORD: &str =
    "DELETE FROM identity_credentials WHERE identity_id = $1 AND type = 'password'";
const END_SESSIONS: &str = r#"UPDATE sessions SET active = FALSE, updated_at = $2
    WHERE identity_id = $1 AND active = TRUE"#;

super::backend_modules! {

    pub async fn find_target(pool: &DbPool, via: &str, value: &str) -> Result<Option<RecoveryTarget>, StoreError> {
        Ok(sqlx::query_as(FIND_TARGET).bind(via).bind(value).fetch_optional(pool).await?)
    }

    pub async fn subject(pool: &DbPool, flow_id: Uuid) -> Result<Option<RecoverySubject>, StoreError> {
        Ok(sqlx::query_as(SUBJECT).bind(flow_id).fetch_optional(pool).await?)
    }

    pub async fn strip(pool: &DbPool, identity: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = async {
            sqlx::query(DELETE_PASSWORD_IDENTIFIERS).bind(identity).execute(&mut *tx).await?;
            sqlx::query(DELETE_PASSWORD).bind(identity).execute(&mut *tx).await?;
            sqlx::query(END_SESSIONS).bind(identity).bind(now).execute(&mut *tx).await?;
            Ok(())
        }
        .await;
        crate::persistence::finish(tx, result).await
    }
}

impl Store {
    /// One query whether or not the address exists, so both paths cost the same.
    pub async fn find_recovery_target(
        &self,
        via: &str,
        value: &str,
    ) -> Result<Option<RecoveryTarget>, StoreError> {
        dispatch!(self, find_target(via, value))
    }

    /// The identity a recovery flow's code is for (none for an unknown address) and whether
    /// it has a verified address now, before the code is used.
    pub async fn recovery_subject(
        &self,
        flow_id: Uuid,
    ) -> Result<Option<RecoverySubject>, StoreError> {
        dispatch!(self, subject(flow_id))
    }

    /// Removes the identity's password credential and ends all its sessions, in one
    /// transaction: recovery of an identity that never proved an address.
    pub async fn strip_unproven_identity(
        &self,
        identity: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, strip(identity, now))
    }
}
