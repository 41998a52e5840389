//! The courier outbox: queue, claim with a lease, renew and release leases, record attempts,
//! expire and purge.
//!
//! A claimed message is `processing`, owned by one worker (`lease_owner`), and its
//! `next_attempt_at` is the lease's end, so one index condition (`status IN (queued,
//! processing) AND next_attempt_at <= now`) finds both due messages and messages whose worker
//! died. The owner's heartbeat moves the lease on while a send is in flight. Postgres claims
//! with `FOR UPDATE SKIP LOCKED`, SQLite with one atomic `UPDATE … RETURNING` (it has a single
//! writer). No transaction is held while a message is sent: claiming and recording are
//! separate short statements, and a batch of attempts is recorded in one statement (Postgres)
//! or one transaction (SQLite).
//!
//! Recording is idempotent: a message recorded `sent` stays `sent` whatever is recorded after
//! it, and a failure changes the message only while the recording worker still owns its lease.
//! Every attempt adds a dispatch row, so a message sent twice shows two successes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::courier_rows::{ClaimRow, ClaimedMessage, Lease, OutboxMessage};
use super::{Channel, Store, StoreError, dispatch};

impl Store {
    /// Queues one message on its own. Flows that carry a code use `insert_message` inside
    /// their own transaction instead.
    pub async fn enqueue_message(&self, m: &OutboxMessage) -> Result<(), StoreError> {
        dispatch!(self, enqueue_messages(std::slice::from_ref(m)))
    }

    /// Queues many messages in one transaction (tools and benchmarks).
    pub async fn enqueue_messages(&self, ms: &[OutboxMessage]) -> Result<(), StoreError> {
        dispatch!(self, enqueue_messages(ms))
    }

    /// Leases up to `limit` due messages to `lease.owner` until `lease.until`.
    pub async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease: &Lease,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        dispatch!(self, claim_messages(now, lease, limit))
    }

    /// The heartbeat: moves the leases `owner` holds to `until`; returns how many. On Postgres
    /// it never waits: a row another statement is writing (being recorded) is left to the next
    /// beat.
    pub async fn renew_leases(&self, owner: Uuid, until: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, renew_leases(owner, until))
    }

    /// Gives claimed messages back unsent (due again at `now`), as if never claimed.
    pub async fn release_messages(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, release_messages(owner, ids, now))
    }

    /// Marks messages whose content expired before delivery as `expired`; returns the
    /// channel of each.
    pub async fn expire_messages(&self, now: DateTime<Utc>) -> Result<Vec<Channel>, StoreError> {
        dispatch!(self, expire_messages(now))
    }

    /// Erases the sealed texts of up to `limit` finished (sent, abandoned, expired) messages
    /// whose expiry, and whose last change, are at or before `before`; returns how many.
    pub async fn purge_message_bodies(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        dispatch!(self, purge_message_bodies(before, limit))
    }
}

pub(super) const COLUMNS: &str = "id, type, status, recipient, template_type, subject, body, \
    html_body, template_data, channel, send_count, next_attempt_at, lease_expires_at, expires_at, \
    last_error, created_at, updated_at";

const INSERT_MESSAGE: &str = r#"INSERT INTO courier_messages
    (id, type, status, recipient, template_type, subject, body, html_body, template_data, channel,
     send_count, next_attempt_at, lease_expires_at, expires_at, last_error, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"#;

/// Binds an `OutboxMessage`'s columns onto any query, in the order of `INSERT_MESSAGE`'s
/// parameters (the Postgres code send writes the same columns).
macro_rules! bind_message {
    ($q:expr, $m:expr) => {{
        let m: &$crate::persistence::OutboxMessage = $m;
        $q.bind(m.id)
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
    }};
}
pub(super) use bind_message;

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE courier_messages SET status = 'processing', lease_owner = $4, ",
            "lease_expires_at = $2, next_attempt_at = $2, claims = claims + 1, updated_at = $1 ",
            "WHERE id IN (SELECT id FROM courier_messages ",
            "WHERE status IN ('queued', 'processing') AND next_attempt_at <= $1 ",
            "AND (expires_at IS NULL OR expires_at > $1) ORDER BY next_attempt_at LIMIT $3",
            $lock,
            ") RETURNING id, type, status, recipient, template_type, subject, body, html_body, ",
            "template_data, channel, send_count, next_attempt_at, lease_expires_at, expires_at, ",
            "last_error, created_at, updated_at, claims"
        )
    };
}

macro_rules! renew_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE courier_messages SET lease_expires_at = $2, next_attempt_at = $2 ",
            "WHERE id IN (SELECT id FROM courier_messages ",
            "WHERE lease_owner = $1 AND status = 'processing'",
            $lock,
            ")"
        )
    };
}

macro_rules! purge_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE courier_messages SET subject = $3, body = $3, html_body = NULL, ",
            "template_data = $3 WHERE id IN (SELECT id FROM courier_messages ",
            "WHERE status IN ('sent', 'abandoned', 'expired') AND length(body) > 0 ",
            "AND updated_at <= $1 AND (expires_at IS NULL OR expires_at <= $1) ",
            "ORDER BY updated_at LIMIT $2",
            $lock,
            ")"
        )
    };
}

/// The statements whose text differs between the two dialects.
pub(crate) trait CourierDialect {
    const CLAIM: &'static str;
    const PURGE: &'static str;
    const RENEW: &'static str;
}
impl CourierDialect for sqlx::Postgres {
    const CLAIM: &'static str = claim_sql!(" FOR UPDATE SKIP LOCKED");
    const PURGE: &'static str = purge_sql!(" FOR UPDATE SKIP LOCKED");
    // The heartbeat skips the rows another statement holds (the recorder's batch, marking
    // them sent): waiting for them, with the batch waiting for rows the heartbeat had locked
    // in another order, was a deadlock that Postgres broke only after `deadlock_timeout` (1 s
    // by default), with the worker's lanes stopped meanwhile. A skipped row is being
    // recorded as finished; if that fails, the next beat renews it.
    const RENEW: &'static str = renew_sql!(" FOR UPDATE SKIP LOCKED");
}
impl CourierDialect for sqlx::Sqlite {
    const CLAIM: &'static str = claim_sql!("");
    const PURGE: &'static str = purge_sql!("");
    const RENEW: &'static str = renew_sql!("");
}
const RELEASE: &str = r#"UPDATE courier_messages SET status = 'queued', lease_owner = NULL,
    lease_expires_at = NULL, next_attempt_at = $3, claims = claims - 1, updated_at = $3
    WHERE id = $1 AND lease_owner = $2 AND status = 'processing'"#;
const EXPIRE: &str = r#"UPDATE courier_messages SET status = 'expired', lease_owner = NULL, lease_expires_at = NULL,
    last_error = COALESCE(last_error, 'the message expired before it could be delivered'), updated_at = $1
    WHERE expires_at <= $1 AND (status = 'queued' OR (status = 'processing' AND next_attempt_at <= $1))
    RETURNING type"#;
super::backend_modules! {
    use super::CourierDialect;

    /// Writes one outbox row inside the caller's transaction, so the message commits together
    /// with the code it carries, or not at all. The couriers are woken after the commit.
    pub async fn insert_message(tx: &mut DbTx, m: &OutboxMessage) -> Result<(), StoreError> {
        bind_message!(sqlx::query(INSERT_MESSAGE), m)
            .execute(&mut **tx)
            .await?;
        crate::persistence::courier_wake::mark_queued();
        Ok(())
    }

    pub async fn enqueue_messages(pool: &DbPool, ms: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = async {
            for m in ms {
                insert_message(&mut tx, m).await?;
            }
            Ok(())
        }
        .await;
        crate::persistence::finish(tx, result).await
    }

    pub async fn claim_messages(
        pool: &DbPool,
        now: DateTime<Utc>,
        lease: &Lease,
        limit: u32,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let rows: Vec<ClaimRow> = sqlx::query_as(<Db as CourierDialect>::CLAIM)
            .bind(now)
            .bind(lease.until)
            .bind(i64::from(limit))
            .bind(lease.owner)
            .fetch_all(pool)
            .await?;
        rows.into_iter().map(ClaimedMessage::try_from).collect()
    }

    pub async fn renew_leases(pool: &DbPool, owner: Uuid, until: DateTime<Utc>) -> Result<u64, StoreError> {
        let res = sqlx::query(<Db as CourierDialect>::RENEW).bind(owner).bind(until).execute(pool).await?;
        Ok(res.rows_affected())
    }

    pub async fn release_messages(pool: &DbPool, owner: Uuid, ids: &[Uuid], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = async {
            for id in ids {
                sqlx::query(RELEASE).bind(id).bind(owner).bind(now).execute(&mut *tx).await?;
            }
            Ok(())
        }
        .await;
        crate::persistence::finish(tx, result).await
    }

    pub async fn expire_messages(pool: &DbPool, now: DateTime<Utc>) -> Result<Vec<Channel>, StoreError> {
        let kinds: Vec<String> = sqlx::query_scalar(EXPIRE).bind(now).fetch_all(pool).await?;
        kinds
            .iter()
            .map(|k| Channel::parse(k).ok_or_else(|| StoreError::Corrupt(format!("unknown message type {k:?}"))))
            .collect()
    }

    pub async fn purge_message_bodies(pool: &DbPool, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let res = sqlx::query(<Db as CourierDialect>::PURGE)
            .bind(before)
            .bind(i64::from(limit))
            .bind(Vec::<u8>::new())
            .execute(pool)
            .await?;
        Ok(res.rows_affected())
    }
}
