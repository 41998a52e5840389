//! Verification flows and challenges. Sending a challenge and using a code are each one
//! transaction: the code row, its outbox message and the flow's new state commit together.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{OutboxMessage, Store, StoreError, dispatch};
use crate::flow::verification::VerificationFlow;
use crate::schema::Via;

/// A code or link token to store with a send. `secret_hmac` is the only form of the secret kept.
#[derive(Clone)]
pub struct NewChallenge {
    pub id: Uuid,
    pub method: &'static str,
    pub secret_hmac: String,
    pub verifiable_address_id: Option<Uuid>,
    pub via: Via,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewChallenge")
            .field("id", &self.id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What one send writes: the flow in its new state, the challenge (none for an unknown
/// address), the outbox message (none when nothing is to be sent) and the address to mark `sent`.
pub struct Send<'a> {
    pub flow: &'a VerificationFlow,
    pub max_sends: i32,
    pub challenge: Option<NewChallenge>,
    pub message: Option<OutboxMessage>,
    pub address_id: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// How using a code ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeUse {
    /// `max_submissions` was passed; the attempt was counted and nothing else checked.
    TooManyAttempts,
    /// The flow passed its challenge meanwhile (a concurrent submission won).
    Completed,
    /// No challenge of this flow matches (wrong code, replaced by a resend, never sent).
    NoMatch,
    Expired {
        expired_at: DateTime<Utc>,
    },
    /// Matched, but already consumed (only reachable through a race).
    AlreadyUsed,
    /// Consumed now; the address (if known) is verified and the flow saved as passed.
    Verified {
        via: Via,
        address_id: Option<Uuid>,
    },
}

/// What a code submission needs: the flow as it should be saved for each ending.
pub struct UseCode<'a> {
    pub flow_id: Uuid,
    pub method: &'static str,
    pub max_submissions: i32,
    /// HMACs of the submitted secret under every configured key (rotation).
    pub candidates: &'a [String],
    pub on_success: &'a VerificationFlow,
    pub on_no_match: Option<&'a VerificationFlow>,
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn insert_verification_flow(&self, f: &VerificationFlow) -> Result<(), StoreError> {
        dispatch!(self, insert_flow(f))
    }
    pub async fn get_verification_flow(
        &self,
        id: Uuid,
    ) -> Result<Option<VerificationFlow>, StoreError> {
        dispatch!(self, get_flow(id))
    }
    /// Saves state, UI, method and CSRF token of a flow (not its counters).
    pub async fn update_verification_flow(
        &self,
        f: &VerificationFlow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, update_flow(f, now))
    }
    /// `false` when the flow already used its sends or has passed; nothing is written then.
    pub async fn send_verification_challenge(&self, s: Send<'_>) -> Result<bool, StoreError> {
        dispatch!(self, send_challenge(s))
    }
    pub async fn use_verification_code(&self, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
        dispatch!(self, use_code(u))
    }
}

const FLOW_COLUMNS: &str = "id, type, state, active_method, request_url, return_to, csrf_token, ui, via, submit_count, send_count, issued_at, expires_at";
const INSERT_FLOW: &str = r#"INSERT INTO selfservice_verification_flows
    (id, type, state, active_method, request_url, return_to, csrf_token, ui, via, submit_count, send_count, issued_at, expires_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, 0, 0, $9, $10, $9)"#;
// A flow that passed its challenge is final: no write of an older state (a late wrong
// guess, a form error, a resend) may land on it.
const UPDATE_FLOW: &str = r#"UPDATE selfservice_verification_flows
    SET state = $2, active_method = $3, ui = $4, updated_at = $5, csrf_token = $6
    WHERE id = $1 AND state <> 'passed_challenge'"#;
const SEND_FLOW: &str = r#"UPDATE selfservice_verification_flows
    SET state = $2, active_method = $3, ui = $4, via = $5, send_count = send_count + 1, updated_at = $6
    WHERE id = $1 AND send_count < $7 AND state <> 'passed_challenge'"#;
const DELETE_CHALLENGES: &str = "DELETE FROM identity_verification_challenges WHERE flow_id = $1";
const INSERT_CHALLENGE: &str = r#"INSERT INTO identity_verification_challenges
    (id, flow_id, method, secret_hmac, verifiable_address_id, via, expires_at, issued_at, used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)"#;
const MARK_SENT: &str = r#"UPDATE identity_verifiable_addresses SET status = 'sent', updated_at = $2
    WHERE id = $1 AND status = 'pending'"#;
const COUNT_SUBMISSION: &str = r#"UPDATE selfservice_verification_flows
    SET submit_count = submit_count + 1 WHERE id = $1 RETURNING submit_count, state"#;
const SELECT_CHALLENGES: &str = r#"SELECT id, secret_hmac, verifiable_address_id, via, expires_at, used_at
    FROM identity_verification_challenges WHERE flow_id = $1 AND method = $2"#;
const CONSUME: &str =
    "UPDATE identity_verification_challenges SET used_at = $2 WHERE id = $1 AND used_at IS NULL";
const VERIFY_ADDRESS: &str = r#"UPDATE identity_verifiable_addresses
    SET verified = TRUE, verified_at = $2, status = 'completed', updated_at = $2 WHERE id = $1"#;

#[derive(sqlx::FromRow)]
struct ChallengeRow {
    id: Uuid,
    secret_hmac: String,
    verifiable_address_id: Option<Uuid>,
    via: String,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

fn matching<'r>(rows: &'r [ChallengeRow], candidates: &[String]) -> Option<&'r ChallengeRow> {
    // Compare every row with every candidate in constant time; no early exit on a prefix.
    let mut found = None;
    for row in rows {
        for c in candidates {
            if crate::crypto::constant_time_eq(row.secret_hmac.as_bytes(), c.as_bytes()) {
                found = Some(row);
            }
        }
    }
    found
}

super::backend_modules! {
    use sqlx::types::Json;
    use sqlx::{Pool, Transaction};
    use crate::persistence::verification_rows::FlowRow;

    pub async fn insert_flow(pool: &Pool<Db>, f: &VerificationFlow) -> Result<(), StoreError> {
        sqlx::query(INSERT_FLOW)
            .bind(f.id)
            .bind(f.kind.as_str())
            .bind(f.state.as_str())
            .bind(f.active.map(|m| m.as_str()))
            .bind(&f.request_url)
            .bind(&f.return_to)
            .bind(&f.csrf_token)
            .bind(Json(&f.ui))
            .bind(f.issued_at)
            .bind(f.expires_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn get_flow(pool: &Pool<Db>, id: Uuid) -> Result<Option<VerificationFlow>, StoreError> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM selfservice_verification_flows WHERE id = $1");
        let row: Option<FlowRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
        row.map(FlowRow::into_flow).transpose()
    }

    pub async fn update_flow(pool: &Pool<Db>, f: &VerificationFlow, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = pool.acquire().await?;
        save_flow(&mut conn, f, now).await
    }

    pub async fn send_challenge(pool: &Pool<Db>, s: Send<'_>) -> Result<bool, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = send_in(&mut tx, s).await;
        crate::persistence::finish(tx, result).await
    }

    async fn send_in(tx: &mut Transaction<'static, Db>, s: Send<'_>) -> Result<bool, StoreError> {
        let f = s.flow;
        let updated = sqlx::query(SEND_FLOW)
            .bind(f.id)
            .bind(f.state.as_str())
            .bind(f.active.map(|m| m.as_str()))
            .bind(Json(&f.ui))
            .bind(f.via.map(Via::as_str))
            .bind(s.now)
            .bind(s.max_sends)
            .execute(&mut **tx)
            .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        // A resend invalidates every earlier code of the flow.
        sqlx::query(DELETE_CHALLENGES).bind(f.id).execute(&mut **tx).await?;
        if let Some(c) = &s.challenge {
            sqlx::query(INSERT_CHALLENGE)
                .bind(c.id)
                .bind(f.id)
                .bind(c.method)
                .bind(&c.secret_hmac)
                .bind(c.verifiable_address_id)
                .bind(c.via.as_str())
                .bind(c.expires_at)
                .bind(c.issued_at)
                .execute(&mut **tx)
                .await?;
        }
        if let Some(m) = &s.message {
            dialect::outbox::insert_message(tx, m).await?;
        }
        // Runs with NULL for an unknown address (matching nothing) to keep both paths alike.
        sqlx::query(MARK_SENT).bind(s.address_id).bind(s.now).execute(&mut **tx).await?;
        Ok(true)
    }

    pub async fn use_code(pool: &Pool<Db>, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = use_in(&mut tx, u).await;
        crate::persistence::finish(tx, result).await
    }

    async fn use_in(tx: &mut Transaction<'static, Db>, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
        // Counted first, in its own row lock: concurrent guesses queue here, so at most
        // max_submissions of them are ever compared.
        let (count, state): (i32, String) = sqlx::query_as(COUNT_SUBMISSION).bind(u.flow_id).fetch_one(&mut **tx).await?;
        if state == "passed_challenge" {
            return Ok(CodeUse::Completed);
        }
        if count > u.max_submissions {
            return Ok(CodeUse::TooManyAttempts);
        }
        let rows: Vec<ChallengeRow> = sqlx::query_as(SELECT_CHALLENGES)
            .bind(u.flow_id)
            .bind(u.method)
            .fetch_all(&mut **tx)
            .await?;
        let Some(row) = matching(&rows, u.candidates) else {
            if let Some(f) = u.on_no_match {
                save_flow(tx, f, u.now).await?;
            }
            return Ok(CodeUse::NoMatch);
        };
        if row.used_at.is_some() {
            return Ok(CodeUse::AlreadyUsed);
        }
        if u.now >= row.expires_at {
            return Ok(CodeUse::Expired { expired_at: row.expires_at });
        }
        let consumed = sqlx::query(CONSUME).bind(row.id).bind(u.now).execute(&mut **tx).await?;
        if consumed.rows_affected() != 1 {
            return Ok(CodeUse::AlreadyUsed);
        }
        if let Some(address) = row.verifiable_address_id {
            sqlx::query(VERIFY_ADDRESS).bind(address).bind(u.now).execute(&mut **tx).await?;
        }
        save_flow(tx, u.on_success, u.now).await?;
        let via = row.via.parse().map_err(|_| StoreError::Corrupt(format!("unknown channel {:?}", row.via)))?;
        Ok(CodeUse::Verified { via, address_id: row.verifiable_address_id })
    }

    /// Saves state, method, UI and CSRF binding, on a pool connection or inside a transaction.
    async fn save_flow(conn: &mut <Db as sqlx::Database>::Connection, f: &VerificationFlow, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(UPDATE_FLOW)
            .bind(f.id)
            .bind(f.state.as_str())
            .bind(f.active.map(|m| m.as_str()))
            .bind(Json(&f.ui))
            .bind(now)
            .bind(&f.csrf_token)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// The verifiable address a submitted value names, with what templates show of its identity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AddressOwner {
    pub address_id: Uuid,
    pub identity_id: Uuid,
    pub schema_id: String,
    pub traits: sqlx::types::Json<serde_json::Value>,
}

const FIND_ADDRESS: &str = r#"SELECT a.id AS address_id, a.identity_id, i.schema_id, i.traits
    FROM identity_verifiable_addresses a JOIN identities i ON i.id = a.identity_id
    WHERE a.via = $1 AND a.value = $2"#;

impl Store {
    /// One query whether or not the address exists, so both paths cost the same.
    pub async fn find_address_owner(
        &self,
        via: Via,
        value: &str,
    ) -> Result<Option<AddressOwner>, StoreError> {
        Ok(match self {
            Store::Postgres(p) => {
                sqlx::query_as(FIND_ADDRESS)
                    .bind(via.as_str())
                    .bind(value)
                    .fetch_optional(p)
                    .await?
            }
            Store::Sqlite(p) => {
                sqlx::query_as(FIND_ADDRESS)
                    .bind(via.as_str())
                    .bind(value)
                    .fetch_optional(p)
                    .await?
            }
        })
    }
}

const IDENTITY_OF_ADDRESS: &str =
    "SELECT identity_id FROM identity_verifiable_addresses WHERE id = $1";

impl Store {
    /// The identity owning a verifiable address, for hooks that show it.
    pub async fn identity_of_address(
        &self,
        address_id: Uuid,
    ) -> Result<Option<crate::identity::Identity>, StoreError> {
        let id: Option<Uuid> = match self {
            Store::Postgres(p) => {
                sqlx::query_scalar(IDENTITY_OF_ADDRESS)
                    .bind(address_id)
                    .fetch_optional(p)
                    .await?
            }
            Store::Sqlite(p) => {
                sqlx::query_scalar(IDENTITY_OF_ADDRESS)
                    .bind(address_id)
                    .fetch_optional(p)
                    .await?
            }
        };
        match id {
            Some(id) => self.get_identity(id).await,
            None => Ok(None),
        }
    }
}
