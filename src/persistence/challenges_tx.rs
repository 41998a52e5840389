//! Sending and using a challenge one statement per step, in one transaction: SQLite's way
//! (it has no writing CTEs) for both, and Postgres's for a resend, whose removal of the
//! earlier codes must run after the flow's row is locked, in a statement of its own that
//! sees every code committed until then (`challenges_pg` sends a flow's first code in one
//! statement). On SQLite the write lock is taken up front (`BEGIN IMMEDIATE`), so the steps
//! of two writers never interleave.

use sqlx::SqlitePool;

use super::challenges::{
    ChallengeRow, CodeUse, SendChallenge, SendResult, UseCode, Verdict, attempt_ends,
    bind_challenge, bind_send_flow, judge,
};
use super::dialect::sqlite::BEGIN_WRITE;
use super::flows::lite as flows;
use super::{StoreError, finish};

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
    VALUES ($2, $1, $3, $4, $5, $6, $7, $8, $9, NULL)"#;
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

super::backend_modules! {

    pub async fn send(pool: &DbPool, s: SendChallenge<'_>) -> Result<SendResult, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = send_in(&mut tx, s).await;
        crate::persistence::finish(tx, result).await
    }

    async fn send_in(
        tx: &mut DbTx,
        s: SendChallenge<'_>,
    ) -> Result<SendResult, StoreError> {
        let f = s.flow;
        let sends: Option<i32> = bind_send_flow!(sqlx::query_scalar(SEND_FLOW), &s)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(sends) = sends else {
            // Read in the same transaction, so the reason is the one that refused the write.
            let state: Option<String> = sqlx::query_scalar(FLOW_STATE)
                .bind(f.id)
                .fetch_optional(&mut **tx)
                .await?;
            return Ok(SendResult::refused(state.as_deref()));
        };
        // A resend invalidates every earlier code of the flow. Challenges are written only
        // here, with the count, so a flow's first send has none to remove.
        if sends > 1 {
            sqlx::query(DELETE_CHALLENGES)
                .bind(f.id)
                .execute(&mut **tx)
                .await?;
        }
        bind_challenge!(sqlx::query(INSERT_CHALLENGE).bind(f.id), &s.challenge)
            .execute(&mut **tx)
            .await?;
        if let Some(m) = &s.message {
            dialect::outbox::insert_message(tx, m).await?;
        }
        // Runs with NULL for an unknown address (matching nothing) to keep both paths alike.
        sqlx::query(MARK_SENT)
            .bind(s.mark_sent)
            .bind(s.now)
            .execute(&mut **tx)
            .await?;
        Ok(SendResult::Sent)
    }
}

pub(super) async fn use_code(pool: &SqlitePool, u: UseCode<'_>) -> Result<CodeUse, StoreError> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let result = use_in(&mut tx, u).await;
    finish(tx, result).await
}

async fn use_in(
    tx: &mut super::dialect::sqlite::Tx,
    u: UseCode<'_>,
) -> Result<CodeUse, StoreError> {
    // Counted first: at most max_submissions guesses are ever compared.
    let (count, state): (i32, String) = sqlx::query_as(COUNT_SUBMISSION)
        .bind(u.flow_id)
        .fetch_one(&mut **tx)
        .await?;
    if let Some(answer) = attempt_ends(count, &state, &u) {
        return Ok(answer);
    }
    let rows: Vec<ChallengeRow> = sqlx::query_as(SELECT_CHALLENGES)
        .bind(u.flow_id)
        .bind(u.method)
        .fetch_all(&mut **tx)
        .await?;
    let row = match judge(&rows, &u) {
        Verdict::Ends(answer) => return Ok(answer),
        Verdict::NoMatch => return Ok(CodeUse::NoMatch),
        Verdict::Consume(row) => row,
    };
    // The `used_at IS NULL` guard and the affected-rows check make the code single use.
    let consumed = sqlx::query(CONSUME)
        .bind(row.id)
        .bind(u.now)
        .execute(&mut **tx)
        .await?;
    if consumed.rows_affected() != 1 {
        return Ok(CodeUse::AlreadyUsed);
    }
    if let Some(address) = row.verifiable_address_id {
        sqlx::query(VERIFY_ADDRESS)
            .bind(address)
            .bind(u.now)
            .execute(&mut **tx)
            .await?;
    }
    flows::save(&mut **tx, u.on_success, u.now).await?;
    Ok(row.verified())
}
