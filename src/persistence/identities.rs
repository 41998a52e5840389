//! Identities with their addresses and credentials, written and read as one unit.

use uuid::Uuid;

use serde_json::Value;

use super::{Store, StoreError, dispatch};
use crate::identity::{Identity, IdentityState};

/// The identity a credential identifier belongs to, read in one statement: its id, schema,
/// traits and state, the credential's config (a password credential's hash) and the id of the
/// verifiable address equal to the identifier, if any. Sign-in works from this and loads the
/// whole identity only once it succeeded, so a failure (or a code sent) costs the same
/// statements for a known identifier as for an unknown one.
#[derive(Clone)]
pub struct CredentialHolder {
    pub identity_id: Uuid,
    pub schema_id: String,
    pub traits: Value,
    pub state: IdentityState,
    pub config: Value,
    pub address_id: Option<Uuid>,
}

impl std::fmt::Debug for CredentialHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialHolder")
            .field("identity_id", &self.identity_id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// One page of a keyset listing: the identities and whether more follow.
#[derive(Debug)]
pub struct IdentityPage {
    pub identities: Vec<Identity>,
    pub has_more: bool,
}

impl Store {
    /// Creates the identity and everything it owns; a duplicate identifier, address or
    /// external id is a `Conflict` and nothing is written.
    pub async fn insert_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        dispatch!(self, insert_identity(identity))
    }

    /// Replaces the identity's row, addresses and credentials. `false` when it does not exist.
    pub async fn update_identity(&self, identity: &Identity) -> Result<bool, StoreError> {
        dispatch!(self, update_identity(identity))
    }

    /// Saves a changed identity, queues `messages` (notices about the change) and, with
    /// `end_sessions_except`, ends the identity's other sessions, all in one transaction;
    /// `false` when the identity does not exist (then nothing else is written).
    pub async fn update_identity_with_messages(
        &self,
        identity: &Identity,
        messages: &[super::OutboxMessage],
        end_sessions_except: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        dispatch!(
            self,
            update_with_messages(identity, messages, end_sessions_except)
        )
    }
    pub async fn get_identity(&self, id: Uuid) -> Result<Option<Identity>, StoreError> {
        dispatch!(self, get_identity(id))
    }

    pub async fn delete_identity(&self, id: Uuid) -> Result<bool, StoreError> {
        dispatch!(self, delete_identity(id))
    }

    /// Identities ordered by id, after `after`, optionally only the one holding `identifier`.
    pub async fn list_identities(
        &self,
        after: Option<Uuid>,
        limit: u32,
        identifier: Option<&str>,
    ) -> Result<IdentityPage, StoreError> {
        dispatch!(self, list_identities(after, limit, identifier))
    }

    /// The holder of the credential of `kind` with this (normalised) identifier, in one query.
    pub async fn find_credential_holder(
        &self,
        kind: &str,
        identifier: &str,
    ) -> Result<Option<CredentialHolder>, StoreError> {
        dispatch!(self, find_credential_holder(kind, identifier))
    }

    /// The identity whose credential of `kind` has this (normalised) identifier.
    pub async fn find_identity_by_identifier(
        &self,
        kind: &str,
        identifier: &str,
    ) -> Result<Option<Identity>, StoreError> {
        dispatch!(self, find_identity_by_identifier(kind, identifier))
    }
}

const INSERT_IDENTITY: &str = r#"INSERT INTO identities
    (id, schema_id, traits, state, state_changed_at, metadata_public, metadata_admin, external_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#;
const UPDATE_IDENTITY: &str = r#"UPDATE identities SET schema_id = $2, traits = $3, state = $4,
    state_changed_at = $5, metadata_public = $6, metadata_admin = $7, external_id = $8, updated_at = $9
    WHERE id = $1"#;
// The children that carry a unique value (an address, an identifier) skip a conflict rather
// than fail, so a duplicate runs every statement a new identity runs (SECURITY.md C3: a
// taken address at sign-up costs what a new one costs); `write_children` then answers
// `Conflict` and the caller's transaction (or savepoint) undoes what was written.
const INSERT_ADDRESS: &str = r#"INSERT INTO identity_verifiable_addresses
    (id, identity_id, via, value, verified, verified_at, status, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT DO NOTHING"#;
const INSERT_RECOVERY: &str = r#"INSERT INTO identity_recovery_addresses
    (id, identity_id, via, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT DO NOTHING"#;
const INSERT_CREDENTIAL: &str = r#"INSERT INTO identity_credentials
    (id, identity_id, type, config, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"#;
const INSERT_IDENTIFIER: &str = r#"INSERT INTO identity_credential_identifiers
    (id, identity_credential_id, identity_id, type, identifier, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT DO NOTHING"#;
const DELETE_ADDRESSES: &str = "DELETE FROM identity_verifiable_addresses WHERE identity_id = $1";
const DELETE_RECOVERY: &str = "DELETE FROM identity_recovery_addresses WHERE identity_id = $1";
const DELETE_CREDENTIALS: &str = "DELETE FROM identity_credentials WHERE identity_id = $1";
const END_OTHER_SESSIONS: &str = r#"UPDATE sessions SET active = FALSE, updated_at = $3
    WHERE identity_id = $1 AND active = TRUE AND id <> $2"#;
const DELETE_IDENTITY: &str = "DELETE FROM identities WHERE id = $1";
const SELECT_IDENTITY: &str = r#"SELECT id, schema_id, traits, state, state_changed_at, metadata_public,
    metadata_admin, external_id, created_at, updated_at FROM identities WHERE id = $1"#;
const LIST_IDENTITIES: &str = r#"SELECT id, schema_id, traits, state, state_changed_at, metadata_public,
    metadata_admin, external_id, created_at, updated_at FROM identities
    WHERE ($1 IS NULL OR id > $1)
      AND ($3 IS NULL OR id IN (SELECT identity_id FROM identity_credential_identifiers WHERE identifier = $3))
    ORDER BY id LIMIT $2"#;
const FIND_BY_IDENTIFIER: &str = r#"SELECT i.id, i.schema_id, i.traits, i.state, i.state_changed_at,
    i.metadata_public, i.metadata_admin, i.external_id, i.created_at, i.updated_at
    FROM identities i JOIN identity_credential_identifiers c ON c.identity_id = i.id
    WHERE c.type = $1 AND c.identifier = $2"#;
const FIND_HOLDER: &str = r#"SELECT i.id, i.schema_id, i.traits, i.state, cr.config, a.id AS address_id
    FROM identity_credential_identifiers c
    JOIN identity_credentials cr ON cr.id = c.identity_credential_id
    JOIN identities i ON i.id = c.identity_id
    LEFT JOIN identity_verifiable_addresses a ON a.identity_id = i.id AND a.value = c.identifier
    WHERE c.type = $1 AND c.identifier = $2"#;
// Children of a contiguous id range; callers keep only the ids they asked for.
const SELECT_ADDRESSES: &str = r#"SELECT id, identity_id, via, value, verified, verified_at, status,
    created_at, updated_at FROM identity_verifiable_addresses WHERE identity_id >= $1 AND identity_id <= $2"#;
const SELECT_RECOVERY: &str = r#"SELECT id, identity_id, via, value, created_at, updated_at
    FROM identity_recovery_addresses WHERE identity_id >= $1 AND identity_id <= $2"#;
const SELECT_CREDENTIALS: &str = r#"SELECT id, identity_id, type, config, version, created_at, updated_at
    FROM identity_credentials WHERE identity_id >= $1 AND identity_id <= $2"#;
const SELECT_IDENTIFIERS: &str = r#"SELECT identity_credential_id, identifier
    FROM identity_credential_identifiers WHERE identity_id >= $1 AND identity_id <= $2"#;

super::backend_modules! {
    use sqlx::types::Json;
    use crate::persistence::rows::{self, AddressRow, Children, CredentialRow, IdentifierRow, IdentityRow, RecoveryRow};

    pub async fn insert_identity(pool: &DbPool, i: &Identity) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = insert_in(&mut tx, i).await;
        crate::persistence::finish(tx, result).await
    }

    pub(in crate::persistence) async fn insert_in(tx: &mut DbTx, i: &Identity) -> Result<(), StoreError> {
        sqlx::query(INSERT_IDENTITY)
            .bind(i.id)
            .bind(&i.schema_id)
            .bind(Json(&i.traits))
            .bind(i.state.as_str())
            .bind(i.state_changed_at)
            .bind(i.metadata_public.as_ref().map(Json))
            .bind(i.metadata_admin.as_ref().map(Json))
            .bind(&i.external_id)
            .bind(i.created_at)
            .bind(i.updated_at)
            .execute(&mut **tx)
            .await?;
        write_children(tx, i).await
    }

    pub async fn update_identity(pool: &DbPool, i: &Identity) -> Result<bool, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = update_in(&mut tx, i).await;
        crate::persistence::finish(tx, result).await
    }

    pub async fn update_with_messages(pool: &DbPool, i: &Identity, messages: &[crate::persistence::OutboxMessage], end_sessions_except: Option<Uuid>) -> Result<bool, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = async {
            if !update_in(&mut tx, i).await? {
                return Ok(false);
            }
            for m in messages {
                dialect::outbox::insert_message(&mut tx, m).await?;
            }
            if let Some(keep) = end_sessions_except {
                sqlx::query(END_OTHER_SESSIONS).bind(i.id).bind(keep).bind(i.updated_at).execute(&mut *tx).await?;
            }
            Ok(true)
        }
        .await;
        crate::persistence::finish(tx, result).await
    }

    pub(in crate::persistence) async fn update_in(tx: &mut DbTx, i: &Identity) -> Result<bool, StoreError> {
        let res = sqlx::query(UPDATE_IDENTITY)
            .bind(i.id)
            .bind(&i.schema_id)
            .bind(Json(&i.traits))
            .bind(i.state.as_str())
            .bind(i.state_changed_at)
            .bind(i.metadata_public.as_ref().map(Json))
            .bind(i.metadata_admin.as_ref().map(Json))
            .bind(&i.external_id)
            .bind(i.updated_at)
            .execute(&mut **tx)
            .await?;
        if res.rows_affected() != 1 {
            return Ok(false);
        }
        for stmt in [DELETE_ADDRESSES, DELETE_RECOVERY, DELETE_CREDENTIALS] {
            sqlx::query(stmt).bind(i.id).execute(&mut **tx).await?;
        }
        write_children(tx, i).await?;
        Ok(true)
    }

    async fn write_children(tx: &mut DbTx, i: &Identity) -> Result<(), StoreError> {
        // Rows a unique value kept out; every statement runs anyway (see INSERT_ADDRESS).
        let mut skipped = 0;
        for a in &i.verifiable_addresses {
            let res = sqlx::query(INSERT_ADDRESS)
                .bind(a.id)
                .bind(i.id)
                .bind(a.via.as_str())
                .bind(&a.value)
                .bind(a.verified)
                .bind(a.verified_at)
                .bind(a.status.as_str())
                .bind(a.created_at)
                .bind(a.updated_at)
                .execute(&mut **tx)
                .await?;
            skipped += usize::from(res.rows_affected() == 0);
        }
        for r in &i.recovery_addresses {
            let res = sqlx::query(INSERT_RECOVERY)
                .bind(r.id)
                .bind(i.id)
                .bind(r.via.as_str())
                .bind(&r.value)
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&mut **tx)
                .await?;
            skipped += usize::from(res.rows_affected() == 0);
        }
        for c in &i.credentials {
            sqlx::query(INSERT_CREDENTIAL)
                .bind(c.id)
                .bind(i.id)
                .bind(&c.kind)
                .bind(Json(&c.config))
                .bind(c.version)
                .bind(c.created_at)
                .bind(c.updated_at)
                .execute(&mut **tx)
                .await?;
            for identifier in &c.identifiers {
                let res = sqlx::query(INSERT_IDENTIFIER)
                    .bind(uuid::Uuid::now_v7())
                    .bind(c.id)
                    .bind(i.id)
                    .bind(&c.kind)
                    .bind(identifier)
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .execute(&mut **tx)
                    .await?;
                skipped += usize::from(res.rows_affected() == 0);
            }
        }
        match skipped {
            0 => Ok(()),
            _ => Err(StoreError::Conflict(sqlx::Error::Protocol(
                "an address or identifier belongs to another identity".into(),
            ))),
        }
    }

    pub async fn get_identity(pool: &DbPool, id: Uuid) -> Result<Option<Identity>, StoreError> {
        let rows: Vec<IdentityRow> = sqlx::query_as(SELECT_IDENTITY).bind(id).fetch_all(pool).await?;
        Ok(with_children(pool, rows).await?.pop())
    }

    pub async fn find_identity_by_identifier(
        pool: &DbPool,
        kind: &str,
        identifier: &str,
    ) -> Result<Option<Identity>, StoreError> {
        let rows: Vec<IdentityRow> = sqlx::query_as(FIND_BY_IDENTIFIER)
            .bind(kind)
            .bind(identifier)
            .fetch_all(pool)
            .await?;
        Ok(with_children(pool, rows).await?.pop())
    }

    pub async fn find_credential_holder(
        pool: &DbPool,
        kind: &str,
        identifier: &str,
    ) -> Result<Option<CredentialHolder>, StoreError> {
        type Row = (Uuid, String, Json<Value>, String, Json<Value>, Option<Uuid>);
        let row: Option<Row> = sqlx::query_as(FIND_HOLDER)
            .bind(kind)
            .bind(identifier)
            .fetch_optional(pool)
            .await?;
        let Some((identity_id, schema_id, Json(traits), state, Json(config), address_id)) = row else {
            return Ok(None);
        };
        let state = IdentityState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown identity state {state:?}")))?;
        Ok(Some(CredentialHolder { identity_id, schema_id, traits, state, config, address_id }))
    }

    pub async fn list_identities(
        pool: &DbPool,
        after: Option<Uuid>,
        limit: u32,
        identifier: Option<&str>,
    ) -> Result<IdentityPage, StoreError> {
        let mut rows: Vec<IdentityRow> = sqlx::query_as(LIST_IDENTITIES)
            .bind(after)
            .bind(i64::from(limit) + 1)
            .bind(identifier)
            .fetch_all(pool)
            .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(IdentityPage { identities: with_children(pool, rows).await?, has_more })
    }

    pub async fn delete_identity(pool: &DbPool, id: Uuid) -> Result<bool, StoreError> {
        let res = sqlx::query(DELETE_IDENTITY).bind(id).execute(pool).await?;
        Ok(res.rows_affected() == 1)
    }

    async fn with_children(pool: &DbPool, rows: Vec<IdentityRow>) -> Result<Vec<Identity>, StoreError> {
        let (Some(first), Some(last)) = (rows.iter().map(|r| r.id).min(), rows.iter().map(|r| r.id).max()) else {
            return Ok(Vec::new());
        };
        let wanted: std::collections::HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut conn = pool.acquire().await?;
        let mut children = Children {
            addresses: sqlx::query_as::<_, AddressRow>(SELECT_ADDRESSES)
                .bind(first).bind(last).fetch_all(&mut *conn).await?,
            recovery: sqlx::query_as::<_, RecoveryRow>(SELECT_RECOVERY)
                .bind(first).bind(last).fetch_all(&mut *conn).await?,
            credentials: sqlx::query_as::<_, CredentialRow>(SELECT_CREDENTIALS)
                .bind(first).bind(last).fetch_all(&mut *conn).await?,
            identifiers: sqlx::query_as::<_, IdentifierRow>(SELECT_IDENTIFIERS)
                .bind(first).bind(last).fetch_all(&mut *conn).await?,
        };
        dialect::release_answered(conn);
        children.addresses.retain(|a| wanted.contains(&a.identity_id));
        children.recovery.retain(|a| wanted.contains(&a.identity_id));
        children.credentials.retain(|a| wanted.contains(&a.identity_id));
        rows::assemble(rows, children)
    }
}
