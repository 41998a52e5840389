//! The courier outbox: queue, claim with a lease, record attempts, list for the admin API.
//!
//! A claimed message is `processing` and its `next_attempt_at` is set to the lease's end, so
//! one index condition (`status IN (queued, processing) AND next_attempt_at <= now`) finds both
//! due messages and messages whose worker died. Postgres claims with `FOR UPDATE SKIP LOCKED`,
//! SQLite with one atomic `UPDATE … RETURNING` (it has a single writer). No transaction is held
//! while a message is sent: claiming and recording are separate short statements.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::courier_rows::{
    self, AttemptResult, Dispatch, DispatchRow, MessageFilter, MessagePage, MessageRow,
    MessageStatus, OutboxMessage,
};
use super::{Store, StoreError, dispatch};

impl Store {
    /// Queues one message on its own. Flows that carry a code use `insert_message` inside
    /// their own transaction instead.
    pub async fn enqueue_message(&self, m: &OutboxMessage) -> Result<(), StoreError> {
        dispatch!(self, enqueue_message(m))
    }

    /// Queues many messages in one transaction (tools and benchmarks).
    pub async fn enqueue_messages(&self, ms: &[OutboxMessage]) -> Result<(), StoreError> {
        dispatch!(self, enqueue_messages(ms))
    }

    /// Leases up to `limit` due messages until `lease_until`; they are `processing` after it.
    pub async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        dispatch!(self, claim_messages(now, lease_until, limit))
    }

    /// Marks messages whose content expired before delivery as `expired`; returns how many.
    pub async fn expire_messages(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, expire_messages(now))
    }

    /// Stores one attempt's dispatch record and the message's new state together.
    pub async fn record_attempt(
        &self,
        message_id: Uuid,
        result: &AttemptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, record_attempt(message_id, result, now))
    }

    /// Newest first, after the message `before` (keyset on the time-ordered id).
    pub async fn list_messages(
        &self,
        filter: &MessageFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<MessagePage, StoreError> {
        dispatch!(self, list_messages(filter, before, limit))
    }

    /// The message with its dispatch log, oldest attempt first.
    pub async fn get_message(
        &self,
        id: Uuid,
    ) -> Result<Option<(OutboxMessage, Vec<Dispatch>)>, StoreError> {
        dispatch!(self, get_message(id))
    }

    /// How many messages are in each status.
    pub async fn message_status_counts(&self) -> Result<Vec<(MessageStatus, i64)>, StoreError> {
        dispatch!(self, message_status_counts())
    }
}

const COLUMNS: &str = "id, type, status, recipient, template_type, subject, body, html_body, \
    template_data, channel, send_count, next_attempt_at, lease_expires_at, expires_at, last_error, \
    created_at, updated_at";

const INSERT_MESSAGE: &str = r#"INSERT INTO courier_messages
    (id, type, status, recipient, template_type, subject, body, html_body, template_data, channel,
     send_count, next_attempt_at, lease_expires_at, expires_at, last_error, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"#;

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE courier_messages SET status = 'processing', lease_expires_at = $2, ",
            "next_attempt_at = $2, updated_at = $1 WHERE id IN (SELECT id FROM courier_messages ",
            "WHERE status IN ('queued', 'processing') AND next_attempt_at <= $1 ",
            "AND (expires_at IS NULL OR expires_at > $1) ORDER BY next_attempt_at LIMIT $3",
            $lock,
            ") RETURNING id, type, status, recipient, template_type, subject, body, html_body, ",
            "template_data, channel, send_count, next_attempt_at, lease_expires_at, expires_at, ",
            "last_error, created_at, updated_at"
        )
    };
}

/// The statements whose text differs between the two dialects.
pub(crate) trait CourierDialect {
    const CLAIM: &'static str;
}
impl CourierDialect for sqlx::Postgres {
    const CLAIM: &'static str = claim_sql!(" FOR UPDATE SKIP LOCKED");
}
impl CourierDialect for sqlx::Sqlite {
    const CLAIM: &'static str = claim_sql!("");
}

const EXPIRE: &str = r#"UPDATE courier_messages SET status = 'expired', lease_expires_at = NULL,
    last_error = COALESCE(last_error, 'the message expired before it could be delivered'), updated_at = $1
    WHERE expires_at <= $1 AND (status = 'queued' OR (status = 'processing' AND next_attempt_at <= $1))"#;
const INSERT_DISPATCH: &str = r#"INSERT INTO courier_message_dispatches (id, message_id, status, error, created_at)
    VALUES ($1, $2, $3, $4, $5)"#;
const UPDATE_AFTER_ATTEMPT: &str = r#"UPDATE courier_messages SET status = $2, send_count = send_count + 1,
    next_attempt_at = COALESCE($3, next_attempt_at), lease_expires_at = NULL,
    last_error = COALESCE($4, last_error), updated_at = $5 WHERE id = $1"#;
const SELECT_DISPATCHES: &str = r#"SELECT id, message_id, status, error, created_at
    FROM courier_message_dispatches WHERE message_id = $1 ORDER BY created_at, id"#;
const STATUS_COUNTS: &str = "SELECT status, COUNT(*) FROM courier_messages GROUP BY status";

fn select_one() -> String {
    format!("SELECT {COLUMNS} FROM courier_messages WHERE id = $1")
}

fn select_page() -> String {
    format!(
        "SELECT {COLUMNS} FROM courier_messages WHERE ($1 IS NULL OR id < $1) \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR recipient = $3) \
         AND ($4 IS NULL OR type = $4) ORDER BY id DESC LIMIT $5"
    )
}

/// The row's new status and error after an attempt, and when to try next.
fn after_attempt(
    result: &AttemptResult,
) -> (MessageStatus, Option<DateTime<Utc>>, Option<&str>, bool) {
    match result {
        AttemptResult::Sent => (MessageStatus::Sent, None, None, true),
        AttemptResult::Retry {
            error,
            next_attempt_at,
        } => (
            MessageStatus::Queued,
            Some(*next_attempt_at),
            Some(error),
            false,
        ),
        AttemptResult::Abandon { error } => (MessageStatus::Abandoned, None, Some(error), false),
        AttemptResult::Expire { error } => (MessageStatus::Expired, None, Some(error), false),
    }
}

super::backend_modules! {
    use sqlx::{AssertSqlSafe, Pool, Transaction};
    use super::CourierDialect;

    /// Writes one outbox row inside the caller's transaction, so the message commits together
    /// with the code it carries, or not at all.
    pub async fn insert_message(tx: &mut Transaction<'static, Db>, m: &OutboxMessage) -> Result<(), StoreError> {
        sqlx::query(INSERT_MESSAGE)
            .bind(m.id)
            .bind(m.channel.as_str())
            .bind(m.status.as_str())
            .bind(&m.recipient)
            .bind(&m.template_type)
            .bind(&m.subject.0)
            .bind(&m.body.0)
            .bind(m.html_body.as_ref().map(|h| &h.0))
            .bind(&m.template_data.0)
            .bind(&m.channel_id)
            .bind(m.send_count)
            .bind(m.next_attempt_at)
            .bind(m.lease_expires_at)
            .bind(m.expires_at)
            .bind(&m.last_error)
            .bind(m.created_at)
            .bind(m.updated_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn enqueue_message(pool: &Pool<Db>, m: &OutboxMessage) -> Result<(), StoreError> {
        enqueue_messages(pool, std::slice::from_ref(m)).await
    }

    pub async fn enqueue_messages(pool: &Pool<Db>, ms: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        for m in ms {
            insert_message(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn claim_messages(
        pool: &Pool<Db>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows: Vec<MessageRow> = sqlx::query_as(<Db as CourierDialect>::CLAIM)
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        courier_rows::messages(rows)
    }

    pub async fn expire_messages(pool: &Pool<Db>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let res = sqlx::query(EXPIRE).bind(now).execute(pool).await?;
        Ok(res.rows_affected())
    }

    pub async fn record_attempt(
        pool: &Pool<Db>,
        message_id: Uuid,
        result: &AttemptResult,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (status, next, error, success) = after_attempt(result);
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        sqlx::query(INSERT_DISPATCH)
            .bind(Uuid::now_v7())
            .bind(message_id)
            .bind(if success { "success" } else { "failed" })
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(UPDATE_AFTER_ATTEMPT)
            .bind(message_id)
            .bind(status.as_str())
            .bind(next)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_messages(
        pool: &Pool<Db>,
        filter: &MessageFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<MessagePage, StoreError> {
        let mut rows: Vec<MessageRow> = sqlx::query_as(AssertSqlSafe(select_page()))
            .bind(before)
            .bind(filter.status.map(|s| s.as_str()))
            .bind(filter.recipient.as_deref())
            .bind(filter.channel.map(|c| c.as_str()))
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(MessagePage { messages: courier_rows::messages(rows)?, has_more })
    }

    pub async fn get_message(
        pool: &Pool<Db>,
        id: Uuid,
    ) -> Result<Option<(OutboxMessage, Vec<Dispatch>)>, StoreError> {
        let mut conn = pool.acquire().await?;
        let row: Option<MessageRow> = sqlx::query_as(AssertSqlSafe(select_one()))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let dispatches: Vec<DispatchRow> = sqlx::query_as(SELECT_DISPATCHES)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        Ok(Some((OutboxMessage::try_from(row)?, dispatches.into_iter().map(Dispatch::from).collect())))
    }

    pub async fn message_status_counts(pool: &Pool<Db>) -> Result<Vec<(MessageStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(STATUS_COUNTS).fetch_all(pool).await?;
        rows.into_iter()
            .map(|(s, n)| {
                MessageStatus::parse(&s)
                    .map(|s| (s, n))
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown message status {s:?}")))
            })
            .collect()
    }
}
