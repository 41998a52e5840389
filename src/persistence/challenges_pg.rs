//! Sending and using a challenge on Postgres, in as few round trips as the guarantees allow.
//!
//! A flow's first send is one statement: the flow's guarded update (it must still have sent
//! nothing) and, only if it matched, the new challenge, its outbox message and the address's
//! `sent` mark, as writing CTEs (one statement is atomic). A first send has no earlier code
//! to remove. A resend, or a first send another request beat, runs the transaction of
//! `challenges_tx`: its removal of the earlier codes must come after the flow's row is locked,
//! in a statement of its own, to see a code another send committed meanwhile; one statement
//! sees only what was committed when it began.
//!
//! A use is two statements, each committed on its own, with no transaction across the
//! comparison: the attempt is counted (the flow's row update gives every concurrent guess its
//! own number, committed before anything is compared, so at most `max_submissions` guesses
//! are ever compared) and returns the flow's challenges in the same statement; the secret is
//! compared here in constant time; then the matching challenge is consumed, its address
//! verified and the flow saved, in one statement, all of it only if the `used_at IS NULL`
//! guard held. (A guess that matched nothing has its flow saved by the caller, with the guard
//! of every save: a flow another submission passed meanwhile stays passed.) A resend committed
//! between the two statements has removed the code being consumed: the guard answers
//! "already used".

use super::PgPool;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::challenges::{
    ChallengeRow, CodeUse, SendChallenge, SendResult, UseCode, Verdict, attempt_ends,
    bind_challenge, bind_send_flow, judge,
};
use super::courier::bind_message;
use super::courier_wake::mark_queued;
use super::flows::bind_saved_flow;
use super::{StoreError, challenges_tx};

/// A flow's first send, without a message (an unknown address that is not told), then with one.
macro_rules! send_sql {
    ($message:literal) => {
        concat!(
            "WITH f AS (UPDATE selfservice_flows SET state = $2, active_method = $3, ui = $4, ",
            "via = $5, sent_to = $6, send_count = send_count + 1, updated_at = $7 ",
            "WHERE id = $1 AND send_count = 0 AND send_count < $8 ",
            "AND state <> 'passed_challenge' RETURNING send_count), ",
            "c AS (INSERT INTO selfservice_flow_challenges (id, flow_id, method, secret_hmac, ",
            "identity_id, verifiable_address_id, via, expires_at, issued_at, used_at) ",
            "SELECT $9::uuid, $1, $10::text, $11::text, $12::uuid, $13::uuid, $14::text, ",
            "$15::timestamptz, $16::timestamptz, NULL FROM f), ",
            // Runs with NULL for an unknown address (matching nothing), as a known one's.
            "a AS (UPDATE identity_verifiable_addresses SET status = 'sent', updated_at = $7 ",
            "WHERE id = $17 AND status = 'pending' AND EXISTS (SELECT 1 FROM f))",
            $message,
            " SELECT send_count FROM f"
        )
    };
}
const SEND: &str = send_sql!("");
const SEND_WITH_MESSAGE: &str = send_sql!(
    ", m AS (INSERT INTO courier_messages (id, type, status, recipient, template_type, subject, \
     body, html_body, template_data, channel, send_count, next_attempt_at, lease_expires_at, \
     expires_at, last_error, created_at, updated_at) SELECT $18::uuid, $19::text, $20::text, \
     $21::text, $22::text, $23::bytea, $24::bytea, $25::bytea, $26::bytea, $27::text, \
     $28::integer, $29::timestamptz, $30::timestamptz, $31::timestamptz, $32::text, \
     $33::timestamptz, $34::timestamptz FROM f)"
);
pub(super) async fn send(pool: &PgPool, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
    if s.flow.send_count > 0 {
        return challenges_tx::pg::send(pool, s).await;
    }
    let sql = if s.message.is_some() {
        SEND_WITH_MESSAGE
    } else {
        SEND
    };
    let q = bind_send_flow!(sqlx::query_scalar::<_, i32>(sql), &s);
    let mut q = bind_challenge!(q, &s.challenge).bind(s.mark_sent);
    if let Some(m) = &s.message {
        q = bind_message!(q, m);
    }
    if q.fetch_optional(pool).await?.is_none() {
        // Sent meanwhile, finished, used up or gone: the transaction finds out which, and
        // sends if it may (removing the code sent meanwhile).
        return challenges_tx::pg::send(pool, s).await;
    }
    if s.message.is_some() {
        mark_queued();
    }
    Ok(SendResult::Sent)
}

/// The counted attempt and the flow's challenges of the method, one row per challenge (one
/// row of NULLs when there is none).
const COUNT_AND_READ: &str = r#"WITH f AS (UPDATE selfservice_flows
    SET submit_count = submit_count + 1 WHERE id = $1 RETURNING submit_count, state)
    SELECT f.submit_count, f.state, c.id, c.secret_hmac, c.identity_id,
        c.verifiable_address_id, c.via, c.expires_at, c.used_at
    FROM f LEFT JOIN selfservice_flow_challenges c ON c.flow_id = $1 AND c.method = $2"#;
/// Consumes the challenge (if still unused), verifies its address and saves the flow as
/// `flows::save` does; the count of consumed rows says whether it held.
const CONSUME: &str = r#"WITH used AS (UPDATE selfservice_flow_challenges SET used_at = $8
        WHERE id = $9 AND used_at IS NULL RETURNING verifiable_address_id),
    a AS (UPDATE identity_verifiable_addresses
        SET verified = TRUE, verified_at = $8, status = 'completed', updated_at = $8
        WHERE id IN (SELECT verifiable_address_id FROM used)),
    f AS (UPDATE selfservice_flows SET state = $2, ui = $3, csrf_token = $4, identity_id = $5,
        internal_context = $6, active_method = $7, updated_at = $8
        WHERE id = $1 AND (kind = 'settings' OR state <> 'passed_challenge')
        AND EXISTS (SELECT 1 FROM used))
    SELECT count(*) FROM used"#;

#[derive(sqlx::FromRow)]
struct Counted {
    submit_count: i32,
    state: String,
    id: Option<Uuid>,
    secret_hmac: Option<String>,
    identity_id: Option<Uuid>,
    verifiable_address_id: Option<Uuid>,
    via: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    used_at: Option<DateTime<Utc>>,
}

impl Counted {
    fn challenge(self) -> Option<ChallengeRow> {
        Some(ChallengeRow {
            id: self.id?,
            secret_hmac: self.secret_hmac?,
            identity_id: self.identity_id,
            verifiable_address_id: self.verifiable_address_id,
            via: self.via?,
            expires_at: self.expires_at?,
            used_at: self.used_at,
        })
    }
}

pub(super) async fn use_code(pool: &PgPool, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
    // Committed on its own before anything is compared: every compared guess stays counted.
    let counted: Vec<Counted> = sqlx::query_as(COUNT_AND_READ)
        .bind(u.flow_id)
        .bind(u.method)
        .fetch_all(pool)
        .await?;
    let Some(first) = counted.first() else {
        return Err(StoreError::from(sqlx::Error::RowNotFound));
    };
    if let Some(answer) = attempt_ends(first.submit_count, &first.state, &u) {
        return Ok(answer);
    }
    let rows: Vec<ChallengeRow> = counted.into_iter().filter_map(Counted::challenge).collect();
    let row = match judge(&rows, &u) {
        Verdict::Ends(answer) => return Ok(answer),
        Verdict::NoMatch => return Ok(CodeUse::NoMatch),
        Verdict::Consume(row) => row,
    };
    // The flow saved is `on_success`, whose id is the flow's (`$1`).
    let consumed: i64 = bind_saved_flow!(sqlx::query_scalar(CONSUME), u.on_success)
        .bind(u.now)
        .bind(row.id)
        .fetch_one(pool)
        .await?;
    Ok(if consumed == 1 {
        row.verified()
    } else {
        CodeUse::AlreadyUsed
    })
}
