//! Recording attempts. A batch is one statement on Postgres (the dispatch rows in a CTE, then
//! every message) and one transaction on SQLite. Idempotent: a message recorded `sent` stays
//! `sent`, and a failure changes a message only while the recording worker owns its lease.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::courier_rows::{AttemptRecord, AttemptResult, MessageStatus};
use super::{Store, StoreError};

impl Store {
    /// Stores attempts made by `owner`: a dispatch row each (plus one for unrecorded earlier
    /// attempts) and each message's new state, all or nothing.
    pub async fn record_attempts(
        &self,
        owner: Uuid,
        records: &[AttemptRecord],
    ) -> Result<(), StoreError> {
        match self {
            _ if records.is_empty() => Ok(()),
            Store::Postgres(pool) => record_pg(pool, owner, records).await,
            Store::Sqlite(pool) => record_lite(pool, owner, records).await,
        }
    }
}

/// The SET clause of recording one attempt. The worker may change a message's state when the
/// attempt succeeded, or when the message is not sent yet and the worker still owns its lease;
/// otherwise only the attempt is counted. (SET expressions all read the row as it was.)
fn record_set(row: &str, status: &str, own: &str, v: [&str; 4]) -> String {
    let [attempts, next, error, at] = v;
    let mine =
        format!("({status} = 'sent' OR ({row}status <> 'sent' AND {row}lease_owner = {own}))");
    format!(
        "send_count = {row}send_count + {attempts}, \
         status = CASE WHEN {mine} THEN {status} ELSE {row}status END, \
         next_attempt_at = CASE WHEN {mine} THEN COALESCE({next}, {row}next_attempt_at) ELSE {row}next_attempt_at END, \
         lease_owner = CASE WHEN {mine} THEN NULL ELSE {row}lease_owner END, \
         lease_expires_at = CASE WHEN {mine} THEN NULL ELSE {row}lease_expires_at END, \
         last_error = COALESCE({error}, {row}last_error), updated_at = {at}"
    )
}

/// One attempt's update of its message (SQLite: one statement per attempt, in one transaction).
static UPDATE_ONE: LazyLock<String> = LazyLock::new(|| {
    let set = record_set("", "$2", "$7", ["$6", "$3", "$4", "$5"]);
    format!("UPDATE courier_messages SET {set} WHERE id = $1")
});

/// A whole batch in one Postgres statement: the dispatch rows in a CTE, then every message.
static RECORD_BATCH_PG: LazyLock<String> = LazyLock::new(|| {
    let set = record_set(
        "m.",
        "u.status",
        "$12",
        ["u.attempts", "u.next_at", "u.error", "u.at"],
    );
    format!(
        "WITH d AS (INSERT INTO courier_message_dispatches (id, message_id, status, error, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])), \
         u AS (SELECT * FROM unnest($6::uuid[], $7::text[], $8::timestamptz[], $9::text[], \
         $10::timestamptz[], $11::int4[]) AS t(id, status, next_at, error, at, attempts)) \
         UPDATE courier_messages m SET {set} FROM u WHERE m.id = u.id"
    )
});

const INSERT_DISPATCH: &str = r#"INSERT INTO courier_message_dispatches (id, message_id, status, error, created_at)
    VALUES ($1, $2, $3, $4, $5)"#;

/// The text of the dispatch row that stands for attempts nobody recorded.
pub const UNRECORDED: &str = "an earlier attempt was not recorded (its worker stopped or lost the \
    database after claiming the message); the message may have been delivered then";

/// A dispatch row about to be written.
struct DispatchIn<'a> {
    message_id: Uuid,
    success: bool,
    error: Option<&'a str>,
    at: DateTime<Utc>,
}

/// The dispatch rows of a batch (an `UNRECORDED` row first where needed), in order.
fn dispatch_rows(records: &[AttemptRecord]) -> Vec<DispatchIn<'_>> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        if r.unrecorded_attempts > 0 {
            out.push(DispatchIn {
                message_id: r.message_id,
                success: false,
                error: Some(UNRECORDED),
                at: r.at,
            });
        }
        out.push(DispatchIn {
            message_id: r.message_id,
            success: matches!(r.result, AttemptResult::Sent),
            error: error_of(&r.result),
            at: r.at,
        });
    }
    out
}

fn error_of(result: &AttemptResult) -> Option<&str> {
    match result {
        AttemptResult::Sent => None,
        AttemptResult::Retry { error, .. }
        | AttemptResult::Abandon { error }
        | AttemptResult::Expire { error } => Some(error),
    }
}

/// The status an attempt leaves and when to try next.
fn after_attempt(result: &AttemptResult) -> (MessageStatus, Option<DateTime<Utc>>) {
    match result {
        AttemptResult::Sent => (MessageStatus::Sent, None),
        AttemptResult::Retry {
            next_attempt_at, ..
        } => (MessageStatus::Queued, Some(*next_attempt_at)),
        AttemptResult::Abandon { .. } => (MessageStatus::Abandoned, None),
        AttemptResult::Expire { .. } => (MessageStatus::Expired, None),
    }
}

fn attempts_of(r: &AttemptRecord) -> i32 {
    i32::try_from(r.unrecorded_attempts)
        .unwrap_or(i32::MAX)
        .saturating_add(1)
}

/// A batch of attempts in one statement.
async fn record_pg(
    pool: &super::PgPool,
    owner: Uuid,
    records: &[AttemptRecord],
) -> Result<(), StoreError> {
    let rows = dispatch_rows(records);
    let states: Vec<(MessageStatus, Option<DateTime<Utc>>)> =
        records.iter().map(|r| after_attempt(&r.result)).collect();
    sqlx::query(sqlx::AssertSqlSafe(RECORD_BATCH_PG.as_str()))
        .bind(rows.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| d.message_id).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|d| if d.success { "success" } else { "failed" })
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|d| d.error).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| d.at).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.message_id).collect::<Vec<_>>())
        .bind(states.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>())
        .bind(states.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| error_of(&r.result))
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(records.iter().map(attempts_of).collect::<Vec<_>>())
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(())
}

/// A batch of attempts in one transaction (SQLite statements cost no network round trip).
async fn record_lite(
    pool: &sqlx::SqlitePool,
    owner: Uuid,
    records: &[AttemptRecord],
) -> Result<(), StoreError> {
    let mut tx = pool.begin_with(super::dialect::sqlite::BEGIN_WRITE).await?;
    let result = async {
        for d in dispatch_rows(records) {
            sqlx::query(INSERT_DISPATCH)
                .bind(Uuid::now_v7())
                .bind(d.message_id)
                .bind(if d.success { "success" } else { "failed" })
                .bind(d.error)
                .bind(d.at)
                .execute(&mut *tx)
                .await?;
        }
        for r in records {
            let (status, next) = after_attempt(&r.result);
            sqlx::query(sqlx::AssertSqlSafe(UPDATE_ONE.as_str()))
                .bind(r.message_id)
                .bind(status.as_str())
                .bind(next)
                .bind(error_of(&r.result))
                .bind(r.at)
                .bind(attempts_of(r))
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
    .await;
    super::finish(tx, result).await
}
