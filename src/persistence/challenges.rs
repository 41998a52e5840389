//! Codes and link tokens of flows (verification, recovery, sign-in by code). Sending a
//! challenge and using one are each atomic: the challenge row, its outbox message and the
//! flow's new state are written together or not at all. On Postgres a flow's first send is
//! one statement and a use two in one transaction (`challenges_pg`); a resend, and every send
//! on SQLite (which has no writing CTEs), runs one statement per step in a transaction
//! (`challenges_tx`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::flows::FlowRecord;
use super::{OutboxMessage, Store, StoreError, challenges_pg, challenges_tx, dispatch};

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

/// Binds a send's flow part, the parameters `$1` to `$8` of both dialects' send (flow id,
/// state, active method, UI, channel, address, time, the send cap).
macro_rules! bind_send_flow {
    ($q:expr, $s:expr) => {{
        let s: &$crate::persistence::challenges::SendChallenge<'_> = $s;
        $q.bind(s.flow.id)
            .bind(&s.flow.state)
            .bind(&s.flow.active_method)
            .bind(&s.flow.ui)
            .bind(&s.flow.via)
            .bind(&s.flow.sent_to)
            .bind(s.now)
            .bind(s.max_sends)
    }};
}
pub(super) use bind_send_flow;

/// Binds a new challenge's columns (id, method, MAC, identity, address, channel, expiry,
/// issue time) onto any query, in this order.
macro_rules! bind_challenge {
    ($q:expr, $c:expr) => {{
        let c: &$crate::persistence::challenges::NewChallenge = $c;
        $q.bind(c.id)
            .bind(c.method)
            .bind(&c.secret_hmac)
            .bind(c.identity_id)
            .bind(c.verifiable_address_id)
            .bind(c.via)
            .bind(c.expires_at)
            .bind(c.issued_at)
    }};
}
pub(super) use bind_challenge;

/// How a send ended. Only `Sent` wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    Sent,
    /// The flow has used its sends.
    SendsUsedUp,
    /// The flow passed its challenge meanwhile (a concurrent code submission finished it).
    AlreadyPassed,
}

impl SendResult {
    /// Why a flow in `state` (read after the refusal; `None`: gone) refused a send.
    pub(super) fn refused(state: Option<&str>) -> Self {
        match state {
            Some("passed_challenge") => Self::AlreadyPassed,
            _ => Self::SendsUsedUp,
        }
    }
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
    pub now: DateTime<Utc>,
}

impl Store {
    pub async fn send_challenge(&self, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
        dispatch!(self, pg: challenges_pg::send, lite: challenges_tx::lite::send, s)
    }
    pub async fn use_challenge(&self, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
        dispatch!(self, pg: challenges_pg::use_code, lite: challenges_tx::use_code, u)
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

const OUTSTANDING: &str = r#"SELECT c.flow_id FROM selfservice_flow_challenges c
    JOIN selfservice_flows f ON f.id = c.flow_id
    WHERE c.verifiable_address_id = $1 AND c.used_at IS NULL AND c.expires_at > $2
      AND f.kind = $3 AND f.type = $4 AND f.csrf_token = $5 AND f.state = 'sent_email'
      AND f.expires_at > $2
    ORDER BY c.issued_at DESC LIMIT 1"#;

/// A stored challenge of the flow, as a code submission compares it.
#[derive(sqlx::FromRow)]
pub(super) struct ChallengeRow {
    pub id: Uuid,
    pub secret_hmac: String,
    pub identity_id: Option<Uuid>,
    pub verifiable_address_id: Option<Uuid>,
    pub via: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl ChallengeRow {
    /// The ending of a submission that consumed this row.
    pub(super) fn verified(&self) -> CodeUse {
        CodeUse::Verified {
            via: self.via.clone(),
            address_id: self.verifiable_address_id,
            identity_id: self.identity_id,
        }
    }
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

/// The end of an attempt decided by its count alone (both backends): the flow was finished
/// meanwhile, or the attempts are spent. `None`: compare the code.
pub(super) fn attempt_ends(count: i32, state: &str, u: &UseCode<'_>) -> Option<CodeUse> {
    if state == "passed_challenge" {
        return Some(CodeUse::Completed);
    }
    (count > u.max_submissions).then_some(CodeUse::TooManyAttempts)
}

/// What a counted attempt that may compare decides before anything is consumed.
pub(super) enum Verdict<'r> {
    /// The answer; nothing more is written.
    Ends(CodeUse),
    /// No challenge matches: nothing more is written here, the answer is `NoMatch` (the
    /// caller saves the flow with its "invalid code" message).
    NoMatch,
    /// This unused, unexpired row matches: consume it, verify its address, save the flow.
    Consume(&'r ChallengeRow),
}

/// The submitted code against the flow's challenges `rows`.
pub(super) fn judge<'r>(rows: &'r [ChallengeRow], u: &UseCode<'_>) -> Verdict<'r> {
    let Some(row) = matching(rows, u.candidates) else {
        return Verdict::NoMatch;
    };
    if row.used_at.is_some() {
        return Verdict::Ends(CodeUse::AlreadyUsed);
    }
    if u.now >= row.expires_at {
        return Verdict::Ends(CodeUse::Expired {
            expired_at: row.expires_at,
        });
    }
    Verdict::Consume(row)
}

super::backend_modules! {

    pub async fn outstanding(pool: &DbPool, o: Outstanding<'_>) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(OUTSTANDING)
            .bind(o.address_id)
            .bind(o.now)
            .bind(o.kind)
            .bind(o.flow_type)
            .bind(o.csrf_token)
            .fetch_optional(pool)
            .await?)
    }

    pub async fn find_owner(pool: &DbPool, via: &str, value: &str) -> Result<Option<AddressOwner>, StoreError> {
        Ok(sqlx::query_as(FIND_ADDRESS).bind(via).bind(value).fetch_optional(pool).await?)
    }

    pub async fn find_recovery(pool: &DbPool, via: &str, value: &str) -> Result<Option<RecoveryOwner>, StoreError> {
        Ok(sqlx::query_as(FIND_RECOVERY).bind(via).bind(value).fetch_optional(pool).await?)
    }

    pub async fn identity_of(pool: &DbPool, address_id: Uuid) -> Result<Option<Uuid>, StoreError> {
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
