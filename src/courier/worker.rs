//! The sending loop. A worker claims due messages with a lease, delivers each, and records
//! the attempt right after the transport answers; no database transaction is open while a
//! message is on the wire. `dispatch_once` does one round at a given time (tests drive it);
//! `run` keeps `worker.concurrency` lanes going until shutdown, finishing in-flight sends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::Courier;
use super::backoff::after_failure;
use crate::persistence::{AttemptResult, OutboxMessage, Store, StoreError};

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

#[derive(Debug, Clone)]
pub struct Worker {
    courier: Courier,
    store: Store,
}

impl Worker {
    pub fn new(courier: Courier, store: Store) -> Self {
        Self { courier, store }
    }

    fn lease(&self) -> chrono::Duration {
        self.courier.worker_config().lease.chrono()
    }

    fn pull_count(&self) -> u32 {
        self.courier.worker_config().pull_count.max(1)
    }

    /// One round at time `now`: expire dead messages, claim up to `pull_count`, send them
    /// `concurrency` at a time, record every attempt as of `now`.
    pub async fn dispatch_once(&self, now: DateTime<Utc>) -> Result<DispatchReport, StoreError> {
        let expired = self.store.expire_messages(now).await?;
        let parallel = self.courier.worker_config().concurrency.max(1);
        let mut report = self.batch(now, self.pull_count(), parallel, || now).await?;
        report.expired += usize::try_from(expired).unwrap_or(usize::MAX);
        Ok(report)
    }

    async fn batch(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        parallel: usize,
        clock: impl Fn() -> DateTime<Utc>,
    ) -> Result<DispatchReport, StoreError> {
        let claimed = self
            .store
            .claim_messages(now, now + self.lease(), limit)
            .await?;
        let mut report = DispatchReport {
            claimed: claimed.len(),
            ..DispatchReport::default()
        };
        let clock = &clock;
        let results: Vec<Result<AttemptResult, StoreError>> = futures_util::stream::iter(claimed)
            .map(|m| async move { self.attempt(&m, clock).await })
            .buffer_unordered(parallel)
            .collect()
            .await;
        let mut first_error = None;
        for r in results {
            match r {
                Ok(r) => report.add(&r),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn attempt(
        &self,
        m: &OutboxMessage,
        clock: &impl Fn() -> DateTime<Utc>,
    ) -> Result<AttemptResult, StoreError> {
        let outcome = self.courier.deliver(m).await;
        let at = clock();
        let attempts = u32::try_from(m.send_count).unwrap_or(0).saturating_add(1);
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
        log(m, attempts, &result);
        // The transport has answered; losing this write would send the message again after
        // the lease, so try a few times before giving up.
        let mut tries = 0;
        loop {
            match self.store.record_attempt(m.id, &result, at).await {
                Ok(()) => return Ok(result),
                Err(e) if tries < 3 => {
                    tries += 1;
                    tracing::warn!(message_id = %m.id, error = %e, "recording a courier attempt failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped); sends in flight finish.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let lanes = self.courier.worker_config().concurrency.max(1);
        let mut set = tokio::task::JoinSet::new();
        for lane in 0..lanes {
            let w = self.clone();
            let rx = shutdown.clone();
            set.spawn(async move { w.lane(lane, rx).await });
        }
        while set.join_next().await.is_some() {}
        tracing::info!("courier worker stopped");
    }

    async fn lane(&self, lane: usize, mut shutdown: watch::Receiver<bool>) {
        let wait = self
            .courier
            .worker_config()
            .pull_wait
            .std()
            .max(Duration::from_millis(10));
        let mut last_expiry: Option<DateTime<Utc>> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = Utc::now();
            let due = last_expiry
                .is_none_or(|t| now - t >= chrono::Duration::from_std(wait).unwrap_or_default());
            if lane == 0 && due {
                last_expiry = Some(now);
                if let Err(e) = self.store.expire_messages(now).await {
                    tracing::warn!(error = %e, "expiring courier messages failed");
                }
            }
            let idle = match self.batch(now, self.pull_count(), 1, Utc::now).await {
                Ok(r) => r.claimed < self.pull_count() as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "the courier cannot reach the database");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    changed = shutdown.changed() => if changed.is_err() { return },
                }
            }
        }
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
