//! Replacing a stored password hash after a sign-in (an imported hash, or one from another
//! hasher), compare-and-swap: the write happens only while the old hash is still the stored
//! one, so a password changed meanwhile is never overwritten.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, dispatch};

impl Store {
    /// `true` when the hash was replaced; `false` when the credential changed meanwhile.
    pub async fn swap_password_hash(
        &self,
        identity_id: Uuid,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, swap_password_hash(identity_id, old, new, now))
    }
}

pub(super) mod pg {
    use super::*;
    use crate::persistence::PgPool;
    use sqlx::Postgres;

    const SWAP: &str = r#"UPDATE identity_credentials
        SET config = jsonb_set(config, '{hashed_password}', to_jsonb($3::text)), updated_at = $4
        WHERE identity_id = $1 AND type = 'password' AND config->>'hashed_password' = $2"#;

    pub async fn swap_password_hash(
        pool: &PgPool,
        identity_id: Uuid,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query::<Postgres>(SWAP)
            .bind(identity_id)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

pub(super) mod lite {
    use super::*;
    use sqlx::{Sqlite, SqlitePool};

    const SWAP: &str = r#"UPDATE identity_credentials
        SET config = json_set(config, '$.hashed_password', $3), updated_at = $4
        WHERE identity_id = $1 AND type = 'password' AND json_extract(config, '$.hashed_password') = $2"#;

    pub async fn swap_password_hash(
        pool: &SqlitePool,
        identity_id: Uuid,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query::<Sqlite>(SWAP)
            .bind(identity_id)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
