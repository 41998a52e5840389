//! Codes and link tokens of flows (verification, recovery, sign-in by code). Sending a
//! challenge and using one are each one transaction: the challenge row, its outbox message and
//! the flow's new state commit together.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::flows::FlowRecord;
use super::{OutboxMessage, Store, StoreError, dispatch};

/// A code or link token to store with a send. `secret_hmac` is the only form of the secret kept.
#[derive(Clone)]
pub struct NewChallenge {
    pub id: Uuid,
    pub method: &'static str,
    pub secret_hmac: String,
    /// Whom using it proves (recovery, sign-in by code); `None` for verification.
    pub identity_id: Option<Uuid>,
    /// The address that becomes verified when it is used; `None` for an unknown address.
    pub verifiable_address_id: Option<Uuid>,
    pub via: &'static str,
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

/// What one send writes: the flow in its new state (with `via` and `sent_to`), the challenge,
/// the outbox message (none when nothing is to be sent) and the address to mark `sent`.
pub struct SendChallenge<'a> {
    pub flow: &'a FlowRecord,
    pub max_sends: i32,
    pub challenge: NewChallenge,
    pub message: Option<OutboxMessage>,
    pub mark_sent: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// How a send ended. Only `Sent` wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    Sent,
    /// The flow has used its sends.
    SendsUsedUp,
    /// The flow passed its challenge meanwhile (a concurrent code submission finished it).
    AlreadyPassed,
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
    /// Consumed now; the address (if any) is verified and the flow saved as passed.
    Verified {
        via: String,
        address_id: Option<Uuid>,
        identity_id: Option<Uuid>,
    },
}

/// What a code submission needs: the flow as it should be saved for each ending.
pub struct UseCode<'a> {
    pub flow_id: Uuid,
    pub method: &'static str,
    pub max_submissions: i32,
    /// HMACs of the submitted secret under every configured key (rotation).
    pub candidates: &'a [String],
    pub on_success: &'a FlowRecord,
    pub on_no_match: Option<&'a FlowRecord>,
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn send_challenge(&self, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
        dispatch!(self, send_challenge(s))
    }
    pub async fn use_challenge(&self, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
        dispatch!(self, use_code(u))
    }
    /// The newest flow of `kind` and `flow_type` waiting on an unused, unexpired code for this
    /// address, bound to `csrf_token`: it is reused instead of minting another code.
    pub async fn outstanding_challenge(
        &self,
        o: Outstanding<'_>,
    ) -> Result<Option<Uuid>, StoreError> {
        dispatch!(self, outstanding(o))
    }
}

/// The search of `Store::outstanding_challenge`.
pub struct Outstanding<'a> {
    pub kind: &'a str,
    pub flow_type: &'a str,
    pub csrf_token: &'a str,
    pub address_id: Uuid,
    pub now: DateTime<Utc>,
}

const SEND_FLOW: &str = r#"UPDATE selfservice_flows
    SET state = $2, active_method = $3, ui = $4, via = $5, sent_to = $6,
        send_count = send_count + 1, updated_at = $7
    WHERE id = $1 AND send_count < $8 AND state <> 'passed_challenge'
    RETURNING send_count"#;
const FLOW_STATE: &str = "SELECT state FROM selfservice_flows WHERE id = $1";
const DELETE_CHALLENGES: &str = "DELETE FROM selfservice_flow_challenges WHERE flow_id = $1";
const INSERT_CHALLENGE: &str = r#"INSERT INTO selfservice_flow_challenges
    (id, flow_id, method, secret_hmac, identity_id, verifiable_address_id, via, expires_at,
     issued_at, used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"#;
const MARK_SENT: &str = r#"UPDATE identity_verifiable_addresses SET status = 'sent', updated_at = $2
    WHERE id = $1 AND status = 'pending'"#;
const COUNT_SUBMISSION: &str = r#"UPDATE selfservice_flows
    SET submit_count = submit_count + 1 WHERE id = $1 RETURNING submit_count, state"#;
const SELECT_CHALLENGES: &str = r#"SELECT id, secret_hmac, identity_id, verifiable_address_id,
    via, expires_at, used_at FROM selfservice_flow_challenges WHERE flow_id = $1 AND method = $2"#;
const CONSUME: &str =
    "UPDATE selfservice_flow_challenges SET used_at = $2 WHERE id = $1 AND used_at IS NULL";
const VERIFY_ADDRESS: &str = r#"UPDATE identity_verifiable_addresses
    SET verified = TRUE, verified_at = $2, status = 'completed', updated_at = $2 WHERE id = $1"#;
const OUTSTANDING: &str = r#"SELECT c.flow_id FROM selfservice_flow_challenges c
    JOIN selfservice_flows f ON f.id = c.flow_id
    WHERE c.verifiable_address_id = $1 AND c.used_at IS NULL AND c.expires_at > $2
      AND f.kind = $3 AND f.type = $4 AND f.csrf_token = $5 AND f.state = 'sent_email'
      AND f.expires_at > $2
    ORDER BY c.issued_at DESC LIMIT 1"#;

#[derive(sqlx::FromRow)]
struct ChallengeRow {
    id: Uuid,
    secret_hmac: String,
    identity_id: Option<Uuid>,
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
    use sqlx::{Pool, Transaction};

    pub async fn send_challenge(pool: &Pool<Db>, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = send_in(&mut tx, s).await;
        crate::persistence::finish(tx, result).await
    }

    async fn send_in(tx: &mut Transaction<'static, Db>, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
        let f = s.flow;
        let sends: Option<i32> = sqlx::query_scalar(SEND_FLOW)
            .bind(f.id)
            .bind(&f.state)
            .bind(&f.active_method)
            .bind(&f.ui)
            .bind(&f.via)
            .bind(&f.sent_to)
            .bind(s.now)
            .bind(s.max_sends)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(sends) = sends else {
            // Read in the same transaction, so the reason is the one that refused the write.
            let state: Option<String> = sqlx::query_scalar(FLOW_STATE).bind(f.id).fetch_optional(&mut **tx).await?;
            return Ok(match state.as_deref() {
                Some("passed_challenge") => SendResult::AlreadyPassed,
                _ => SendResult::SendsUsedUp,
            });
        };
        // A resend invalidates every earlier code of the flow. Challenges are written only
        // here, with the count, so a flow's first send has none to remove.
        if sends > 1 {
            sqlx::query(DELETE_CHALLENGES).bind(f.id).execute(&mut **tx).await?;
        }
        let c = &s.challenge;
        sqlx::query(INSERT_CHALLENGE)
            .bind(c.id)
            .bind(f.id)
            .bind(c.method)
            .bind(&c.secret_hmac)
            .bind(c.identity_id)
            .bind(c.verifiable_address_id)
            .bind(c.via)
            .bind(c.expires_at)
            .bind(c.issued_at)
            .execute(&mut **tx)
            .await?;
        if let Some(m) = &s.message {
            dialect::outbox::insert_message(tx, m).await?;
        }
        // Runs with NULL for an unknown address (matching nothing) to keep both paths alike.
        sqlx::query(MARK_SENT).bind(s.mark_sent).bind(s.now).execute(&mut **tx).await?;
        Ok(SendResult::Sent)
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
                dialect::flows::save(tx, f, u.now).await?;
            }
            return Ok(CodeUse::NoMatch);
        };
        if row.used_at.is_some() {
            return Ok(CodeUse::AlreadyUsed);
        }
        if u.now >= row.expires_at {
            return Ok(CodeUse::Expired { expired_at: row.expires_at });
        }
        // The `used_at IS NULL` guard and the affected-rows check make the code single use
        // even if two transactions got this far.
        let consumed = sqlx::query(CONSUME).bind(row.id).bind(u.now).execute(&mut **tx).await?;
        if consumed.rows_affected() != 1 {
            return Ok(CodeUse::AlreadyUsed);
        }
        if let Some(address) = row.verifiable_address_id {
            sqlx::query(VERIFY_ADDRESS).bind(address).bind(u.now).execute(&mut **tx).await?;
        }
        dialect::flows::save(tx, u.on_success, u.now).await?;
        Ok(CodeUse::Verified {
            via: row.via.clone(),
            address_id: row.verifiable_address_id,
            identity_id: row.identity_id,
        })
    }

    pub async fn outstanding(pool: &Pool<Db>, o: Outstanding<'_>) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(OUTSTANDING)
            .bind(o.address_id)
            .bind(o.now)
            .bind(o.kind)
            .bind(o.flow_type)
            .bind(o.csrf_token)
            .fetch_optional(pool)
            .await?)
    }

    pub async fn find_owner(pool: &Pool<Db>, via: &str, value: &str) -> Result<Option<AddressOwner>, StoreError> {
        Ok(sqlx::query_as(FIND_ADDRESS).bind(via).bind(value).fetch_optional(pool).await?)
    }

    pub async fn find_recovery(pool: &Pool<Db>, via: &str, value: &str) -> Result<Option<RecoveryOwner>, StoreError> {
        Ok(sqlx::query_as(FIND_RECOVERY).bind(via).bind(value).fetch_optional(pool).await?)
    }

    pub async fn identity_of(pool: &Pool<Db>, address_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(IDENTITY_OF_ADDRESS).bind(address_id).fetch_optional(pool).await?)
    }
}

/// The verifiable address a submitted value names, with what templates show of its identity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AddressOwner {
    pub address_id: Uuid,
    pub identity_id: Uuid,
    pub schema_id: String,
    pub traits: sqlx::types::Json<serde_json::Value>,
    pub verified: bool,
}

const FIND_ADDRESS: &str = r#"SELECT a.id AS address_id, a.identity_id, i.schema_id, i.traits,
    a.verified FROM identity_verifiable_addresses a JOIN identities i ON i.id = a.identity_id
    WHERE a.via = $1 AND a.value = $2"#;

/// The identity a recovery address names, with its verifiable twin (same channel and value)
/// if it has one: recovering through it proves the address too.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecoveryOwner {
    pub identity_id: Uuid,
    pub schema_id: String,
    pub traits: sqlx::types::Json<serde_json::Value>,
    pub verifiable_address_id: Option<Uuid>,
}

const FIND_RECOVERY: &str = r#"SELECT r.identity_id, i.schema_id, i.traits,
    v.id AS verifiable_address_id
    FROM identity_recovery_addresses r JOIN identities i ON i.id = r.identity_id
    LEFT JOIN identity_verifiable_addresses v
      ON v.identity_id = r.identity_id AND v.via = r.via AND v.value = r.value
    WHERE r.via = $1 AND r.value = $2"#;

const IDENTITY_OF_ADDRESS: &str =
    "SELECT identity_id FROM identity_verifiable_addresses WHERE id = $1";

impl Store {
    /// One query whether or not the address exists, so both paths cost the same.
    pub async fn find_address_owner(
        &self,
        via: &str,
        value: &str,
    ) -> Result<Option<AddressOwner>, StoreError> {
        dispatch!(self, find_owner(via, value))
    }

    /// One query whether or not the address exists, so both paths cost the same.
    pub async fn find_recovery_owner(
        &self,
        via: &str,
        value: &str,
    ) -> Result<Option<RecoveryOwner>, StoreError> {
        dispatch!(self, find_recovery(via, value))
    }

    /// The identity owning a verifiable address, for hooks that show it.
    pub async fn identity_of_address(
        &self,
        address_id: Uuid,
    ) -> Result<Option<crate::identity::Identity>, StoreError> {
        match dispatch!(self, identity_of(address_id))? {
            Some(id) => self.get_identity(id).await,
            None => Ok(None),
        }
    }
}
