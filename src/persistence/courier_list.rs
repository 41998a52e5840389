//! The admin side of the outbox: listing messages, one message with its dispatch log, and
//! the count per status.

use uuid::Uuid;

use super::courier::COLUMNS;
use super::courier_rows::{
    self, Dispatch, DispatchRow, MessageFilter, MessagePage, MessageRow, MessageStatus,
    OutboxMessage,
};
use super::{Store, StoreError, dispatch};

impl Store {
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

super::backend_modules! {
    use sqlx::AssertSqlSafe;

    pub async fn list_messages(
        pool: &DbPool,
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
        pool: &DbPool,
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

    pub async fn message_status_counts(pool: &DbPool) -> Result<Vec<(MessageStatus, i64)>, StoreError> {
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
