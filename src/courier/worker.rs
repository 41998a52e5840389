//! The sending worker. It claims due messages with a lease of its own, delivers each, and
//! records the attempts right after the transports answer; no database transaction is open
//! while a message is on the wire. `dispatch_once` does one round at a given time (tests drive
//! it); `run` (in `worker_loop`) keeps going until shutdown, woken when a message is queued.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::watch;
use uuid::Uuid;

use super::backoff::{SendError, after_failure};
use super::{Courier, metrics};
use crate::persistence::{
    AttemptRecord, AttemptResult, ClaimedMessage, Lease, OutboxMessage, Store, StoreError,
};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub abandoned: usize,
    pub expired: usize,
}

impl DispatchReport {
    fn add(&mut self, r: &AttemptResult) {
        match r {
            AttemptResult::Sent => self.sent += 1,
            AttemptResult::Retry { .. } => self.retried += 1,
            AttemptResult::Abandon { .. } => self.abandoned += 1,
            AttemptResult::Expire { .. } => self.expired += 1,
        }
    }
}

/// A courier worker: its own lease owner id, the courier that sends and the outbox store.
#[derive(Debug, Clone)]
pub struct Worker {
    pub(super) courier: Courier,
    pub(super) store: Store,
    pub(super) id: Uuid,
}

impl Worker {
    pub fn new(courier: Courier, store: Store) -> Self {
        Self {
            courier,
            store,
            id: Uuid::new_v4(),
        }
    }

    /// The id that owns this worker's leases.
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub(super) fn lease(&self) -> chrono::Duration {
        self.courier.worker_config().lease.chrono()
    }

    pub(super) fn wake_settle(&self) -> std::time::Duration {
        self.courier.worker_config().wake_settle.std()
    }

    pub(super) fn pull_count(&self) -> u32 {
        self.courier.worker_config().pull_count.max(1)
    }

    /// One round at time `now`: expire dead messages, claim up to `pull_count`, send them
    /// `concurrency` at a time, record every attempt as of `now` in one batch.
    pub async fn dispatch_once(&self, now: DateTime<Utc>) -> Result<DispatchReport, StoreError> {
        let expired = self.store.expire_messages(now).await?;
        expired.iter().for_each(|c| metrics::expired(*c));
        let lease = Lease {
            owner: self.id,
            until: now + self.lease(),
        };
        let claimed = self
            .store
            .claim_messages(now, &lease, self.pull_count())
            .await?;
        let parallel = self.courier.worker_config().concurrency.max(1);
        let records: Vec<AttemptRecord> = futures_util::stream::iter(&claimed)
            .map(|c| self.attempt(c, || now))
            .buffer_unordered(parallel)
            .collect()
            .await;
        let give_up = Instant::now() + Duration::from_secs(5);
        self.record(&records, || Instant::now() >= give_up).await?;
        let mut report = DispatchReport {
            claimed: claimed.len(),
            expired: expired.len(),
            ..DispatchReport::default()
        };
        records.iter().for_each(|r| report.add(&r.result));
        Ok(report)
    }

    /// One delivery attempt and what to record about it (`clock` says when it ended).
    pub(super) async fn attempt(
        &self,
        c: &ClaimedMessage,
        clock: impl Fn() -> DateTime<Utc>,
    ) -> AttemptRecord {
        let m = &c.message;
        if c.unrecorded_attempts > 0 {
            tracing::warn!(
                message_id = %m.id, unrecorded = c.unrecorded_attempts,
                "sending a message whose earlier attempt was never recorded; the recipient may get it twice"
            );
        }
        let started = Instant::now();
        let outcome = self.courier.deliver(m).await;
        metrics::send_seconds(m.channel, started.elapsed());
        let at = clock();
        let attempts = u32::try_from(m.send_count)
            .unwrap_or(0)
            .saturating_add(c.unrecorded_attempts)
            .saturating_add(1);
        let result = match &outcome {
            Ok(()) => AttemptResult::Sent,
            Err(e) => after_failure(
                e,
                attempts,
                self.courier.message_retries(),
                m.expires_at,
                at,
            ),
        };
        let permanent = matches!(outcome, Err(SendError::Permanent { .. }));
        metrics::attempt(m.channel, &result, permanent);
        log(m, attempts, &result);
        AttemptRecord {
            message_id: m.id,
            result,
            at,
            unrecorded_attempts: c.unrecorded_attempts,
        }
    }

    /// Records a batch, retrying while the database does not answer until `give_up()`: the
    /// transport has answered, and a lost "sent" would send the message again.
    pub(super) async fn record(
        &self,
        batch: &[AttemptRecord],
        give_up: impl Fn() -> bool,
    ) -> Result<(), StoreError> {
        let mut wait = Duration::from_millis(25);
        let mut failures = 0u32;
        loop {
            match self.store.record_attempts(self.id, batch).await {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(
                            failures,
                            "recorded the courier attempts after the database came back"
                        );
                    }
                    return Ok(());
                }
                Err(e) if give_up() => return Err(e),
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, messages = batch.len(), "recording courier attempts failed; retrying until the database answers");
                    }
                    failures += 1;
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped); sends in flight finish and
    /// are recorded.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        super::worker_loop::run(self, shutdown).await;
    }
}

fn log(m: &OutboxMessage, attempts: u32, r: &AttemptResult) {
    let (id, kind, tt) = (m.id, m.channel.as_str(), m.template_type.as_str());
    match r {
        AttemptResult::Sent => {
            tracing::info!(message_id = %id, channel = kind, template_type = tt, attempts, "message sent");
        }
        AttemptResult::Retry {
            error,
            next_attempt_at,
        } => tracing::warn!(
            message_id = %id, channel = kind, template_type = tt, attempts, %error, next_attempt_at = %next_attempt_at,
            "message delivery failed; will retry"
        ),
        AttemptResult::Abandon { error } => tracing::error!(
            message_id = %id, channel = kind, template_type = tt, attempts, %error, "message abandoned"
        ),
        AttemptResult::Expire { error } => tracing::warn!(
            message_id = %id, channel = kind, template_type = tt, attempts, %error, "message expired before delivery"
        ),
    }
}
