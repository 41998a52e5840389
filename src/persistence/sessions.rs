//! Sessions. Tokens are looked up by their SHA-256 digest; the plain token is never stored.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError, dispatch};
use crate::identity::Identity;
use crate::session::{AuthMethod, Device, Session};

/// A session to insert, with the digest of its token.
pub struct NewSession<'a> {
    pub session: &'a Session,
    pub token_hash: &'a str,
}

impl Store {
    pub async fn insert_session(&self, s: NewSession<'_>) -> Result<(), StoreError> {
        dispatch!(self, insert_session(s, None))
    }
    /// A new session for a login; `replaces` (the browser's previous session, if any) is
    /// ended in the same transaction, so a login always yields a fresh session id.
    pub async fn replace_session(
        &self,
        s: NewSession<'_>,
        replaces: Option<Uuid>,
    ) -> Result<(), StoreError> {
        dispatch!(self, insert_session(s, replaces))
    }
    /// Registration: the identity and (with the `session` hook) its first session, together.
    /// Stores a new identity (and its first session). On a duplicate identifier or address
    /// nothing of it is written and the answer is `Conflict`; with `if_taken`, that message
    /// is then queued and the transaction commits, so a taken address costs what a new one
    /// costs and its owner's notice is never lost.
    pub async fn register_identity(
        &self,
        identity: &Identity,
        session: Option<NewSession<'_>>,
        if_taken: Option<&super::OutboxMessage>,
    ) -> Result<(), StoreError> {
        // A conflict that queued the notice committed (and woke the couriers): it comes back
        // as a value from the unit of work, and is the caller's `Conflict` here.
        match dispatch!(self, register(identity, session, if_taken))? {
            None => Ok(()),
            Some(conflict) => Err(conflict),
        }
    }
    pub async fn session_by_token_hash(&self, hash: &str) -> Result<Option<Session>, StoreError> {
        dispatch!(self, by_token_hash(hash))
    }
    pub async fn get_session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        dispatch!(self, get_session(id))
    }
    pub async fn extend_session(
        &self,
        id: Uuid,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, extend(id, expires_at, now))
    }
    /// Ends one session; `false` when it was already inactive or unknown.
    pub async fn deactivate_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, deactivate(id, now))
    }
    /// Ends every active session of an identity except `keep`; returns how many ended.
    pub async fn deactivate_identity_sessions(
        &self,
        identity: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, deactivate_all(identity, keep, now))
    }
    pub async fn list_sessions(
        &self,
        identity: Uuid,
        active_only: bool,
    ) -> Result<Vec<Session>, StoreError> {
        dispatch!(self, list(identity, active_only))
    }
    /// Every identity's sessions, newest first, a keyset page after the session `after`, and
    /// whether more follow.
    /// `active`: `Some(true)` only usable ones at `now`, `Some(false)` only ended or expired.
    pub async fn list_all_sessions(
        &self,
        after: Option<Uuid>,
        limit: u32,
        active: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Session>, bool), StoreError> {
        dispatch!(self, list_all(after, limit, active, now))
    }
}

const COLUMNS: &str = "id, identity_id, active, aal, authentication_methods, devices, authenticated_at, issued_at, expires_at";
const INSERT: &str = r#"INSERT INTO sessions (id, token_hash, identity_id, active, aal,
    authentication_methods, devices, authenticated_at, issued_at, expires_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)"#;
const EXTEND: &str =
    "UPDATE sessions SET expires_at = $2, updated_at = $3 WHERE id = $1 AND active = TRUE";
const DEACTIVATE: &str =
    "UPDATE sessions SET active = FALSE, updated_at = $2 WHERE id = $1 AND active = TRUE";
const DEACTIVATE_ALL: &str = r#"UPDATE sessions SET active = FALSE, updated_at = $3
    WHERE identity_id = $1 AND active = TRUE AND ($2 IS NULL OR id <> $2)"#;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    identity_id: Uuid,
    active: bool,
    aal: String,
    authentication_methods: Json<Vec<AuthMethod>>,
    devices: Json<Vec<Device>>,
    authenticated_at: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            identity_id: r.identity_id,
            active: r.active,
            aal: r.aal,
            authentication_methods: r.authentication_methods.0,
            devices: r.devices.0,
            authenticated_at: r.authenticated_at,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
        }
    }
}

const SAVEPOINT: &str = "SAVEPOINT registration";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT registration";

super::backend_modules! {

    pub async fn insert_session(pool: &DbPool, s: NewSession<'_>, replaces: Option<Uuid>) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = async {
            if let Some(old) = replaces {
                sqlx::query(DEACTIVATE).bind(old).bind(s.session.issued_at).execute(&mut *tx).await?;
            }
            insert_in(&mut tx, &s).await
        }
        .await;
        crate::persistence::finish(tx, result).await
    }

    pub async fn register(
        pool: &DbPool,
        identity: &Identity,
        s: Option<NewSession<'_>>,
        if_taken: Option<&crate::persistence::OutboxMessage>,
    ) -> Result<Option<StoreError>, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        if if_taken.is_some() {
            sqlx::query(SAVEPOINT).execute(&mut *tx).await?;
        }
        let stored = async {
            dialect::identities::insert_in(&mut tx, identity).await?;
            if let Some(s) = &s {
                insert_in(&mut tx, s).await?;
            }
            Ok(())
        }
        .await;
        let result = match (stored, if_taken) {
            (Err(StoreError::Conflict(e)), Some(notice)) => {
                // Undo the partial insert, keep the transaction, queue the notice, commit.
                let queued = async {
                    sqlx::query(ROLLBACK_TO_SAVEPOINT).execute(&mut *tx).await?;
                    dialect::outbox::insert_message(&mut tx, notice).await
                }
                .await;
                queued.map(|()| Some(StoreError::Conflict(e)))
            }
            (stored, _) => stored.map(|()| None),
        };
        crate::persistence::finish(tx, result).await
    }

    async fn insert_in(tx: &mut DbTx, s: &NewSession<'_>) -> Result<(), StoreError> {
        let x = s.session;
        sqlx::query(INSERT)
            .bind(x.id)
            .bind(s.token_hash)
            .bind(x.identity_id)
            .bind(x.active)
            .bind(&x.aal)
            .bind(Json(&x.authentication_methods))
            .bind(Json(&x.devices))
            .bind(x.authenticated_at)
            .bind(x.issued_at)
            .bind(x.expires_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn by_token_hash(pool: &DbPool, hash: &str) -> Result<Option<Session>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1");
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(pool).await?;
        Ok(row.map(Session::from))
    }

    pub async fn get_session(pool: &DbPool, id: Uuid) -> Result<Option<Session>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
        Ok(row.map(Session::from))
    }

    pub async fn extend(pool: &DbPool, id: Uuid, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(EXTEND).bind(id).bind(expires_at).bind(now).execute(pool).await?;
        Ok(())
    }

    pub async fn deactivate(pool: &DbPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = sqlx::query(DEACTIVATE).bind(id).bind(now).execute(pool).await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn deactivate_all(pool: &DbPool, identity: Uuid, keep: Option<Uuid>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let r = sqlx::query(DEACTIVATE_ALL).bind(identity).bind(keep).bind(now).execute(pool).await?;
        Ok(r.rows_affected())
    }

    pub async fn list(pool: &DbPool, identity: Uuid, active_only: bool) -> Result<Vec<Session>, StoreError> {
        let filter = if active_only { " AND active = TRUE" } else { "" };
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE identity_id = $1{filter} ORDER BY authenticated_at DESC LIMIT 500");
        let rows: Vec<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(identity).fetch_all(pool).await?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    pub async fn list_all(pool: &DbPool, after: Option<Uuid>, limit: u32, active: Option<bool>, now: DateTime<Utc>) -> Result<(Vec<Session>, bool), StoreError> {
        let filter = match active {
            None => "",
            Some(true) => " AND active = TRUE AND expires_at > $3",
            Some(false) => " AND (active = FALSE OR expires_at <= $3)",
        };
        // Newest first, as Kratos pages them; the page token names the last session shown.
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE ($1 IS NULL OR issued_at < (SELECT issued_at FROM sessions WHERE id = $1) OR (issued_at = (SELECT issued_at FROM sessions WHERE id = $1) AND id < $1)){filter} ORDER BY issued_at DESC, id DESC LIMIT $2");
        let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after).bind(i64::from(limit) + 1);
        let query = if active.is_some() { query.bind(now) } else { query };
        let rows: Vec<SessionRow> = query.fetch_all(pool).await?;
        let mut sessions: Vec<Session> = rows.into_iter().map(Session::from).collect();
        let has_more = sessions.len() > limit as usize;
        sessions.truncate(limit as usize);
        Ok((sessions, has_more))
    }
}
