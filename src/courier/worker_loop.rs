//! `Worker::run`: the long-running courier of a process.
//!
//! One dispatcher claims only as many messages as it can send at once (`concurrency`), so a
//! lease covers only what is being sent; each claimed message goes straight to a send task.
//! A send's slot is free again as soon as the transport has answered: recording the attempt
//! (a commit) happens behind it, so the lanes never wait for the database's fsync. The claimed
//! messages not yet recorded (on the wire or answered) stay within twice `concurrency`: when
//! the recorder falls that far behind, the lanes wait for it, so a worker that dies leaves at
//! most that many to be sent again.
//! A heartbeat renews the worker's leases every fifth of `lease` while anything is in flight,
//! so the lease can be short and a dead worker's messages come back within seconds; a send
//! starts only while at least half a lease is left. A recorder stores finished attempts in
//! batches and retries until the database answers. The dispatcher sleeps until a message is
//! queued (`OutboxWake`: in-process after the commit, `LISTEN/NOTIFY` across processes on
//! Postgres), a retry falls due, or `pull_wait` passes (the fallback for a missed wake-up).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::housekeeping;
use super::worker::Worker;
use crate::persistence::courier_wake::{CHANNEL, OutboxWake};
use crate::persistence::{AttemptRecord, AttemptResult, ClaimedMessage, Lease, Store};

/// How long recording goes on after shutdown when the database does not answer.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Largest batch of attempts recorded together.
const MAX_BATCH: usize = 256;

struct Shared {
    worker: Worker,
    /// Claimed and not yet recorded (the heartbeat keeps their leases).
    in_flight: Mutex<HashSet<Uuid>>,
    /// Of those, the ones on the wire: what `concurrency` bounds.
    sending: AtomicUsize,
    renewed_until: Mutex<Option<DateTime<Utc>>>,
    next_due: Mutex<Option<DateTime<Utc>>>,
    slot_freed: Notify,
    records: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    give_up_at: Mutex<Option<Instant>>,
}

/// A finished attempt waiting to be recorded, and how long it is worth retrying.
struct Pending {
    record: AttemptRecord,
    keep_until: Instant,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn concurrency(&self) -> usize {
        self.worker.courier.worker_config().concurrency.max(1)
    }

    fn free_slots(&self) -> usize {
        let held = lock(&self.in_flight).len();
        free_slots(
            self.concurrency(),
            self.sending.load(Ordering::SeqCst),
            held,
        )
    }

    /// Takes a claimed message into flight; `false` if it already is (the worker claimed its
    /// own message again after its lease ran out while the database was away).
    fn hold(&self, id: Uuid) -> bool {
        let new = lock(&self.in_flight).insert(id);
        if new {
            self.sending.fetch_add(1, Ordering::SeqCst);
        }
        new
    }

    /// The transport answered (or the send was given up): the slot takes the next message.
    fn answered(&self) {
        self.sending.fetch_sub(1, Ordering::SeqCst);
        self.slot_freed.notify_one();
    }

    fn done(&self, id: Uuid) {
        lock(&self.in_flight).remove(&id);
        self.slot_freed.notify_one();
    }

    /// The end of a message's lease: its claim, or a later renewal of all leases.
    fn lease_end(&self, claimed_until: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let renewed = *lock(&self.renewed_until);
        claimed_until.max(renewed)
    }

    fn note_retry(&self, r: &AttemptRecord) {
        if let AttemptResult::Retry {
            next_attempt_at, ..
        } = r.result
        {
            let mut due = lock(&self.next_due);
            *due = Some(due.map_or(next_attempt_at, |d| d.min(next_attempt_at)));
        }
    }

    /// How long to sleep: `pull_wait`, or less when a retry this worker scheduled is due first.
    fn sleep_for(&self, now: DateTime<Utc>) -> Duration {
        let wait = self
            .worker
            .courier
            .worker_config()
            .pull_wait
            .std()
            .max(Duration::from_millis(10));
        let mut due = lock(&self.next_due);
        match *due {
            Some(d) if d <= now => {
                *due = None;
                Duration::ZERO
            }
            Some(d) => (d - now).to_std().unwrap_or_default().min(wait),
            None => wait,
        }
    }

    fn submit(&self, p: Pending) {
        let id = p.record.message_id;
        let sent = lock(&self.records).as_ref().map(|tx| tx.send(p).is_ok());
        if sent != Some(true) {
            self.done(id);
        }
    }
}

/// How many more messages a worker may claim: a lane must be free, and the claimed messages
/// not yet recorded (`held`: on the wire or answered) stay within twice the concurrency.
fn free_slots(concurrency: usize, sending: usize, held: usize) -> usize {
    let lanes = concurrency.saturating_sub(sending);
    lanes.min((2 * concurrency).saturating_sub(held))
}

pub(super) async fn run(worker: Worker, mut shutdown: watch::Receiver<bool>) {
    let wake = worker.store.outbox_wake();
    let _running = wake.courier_running();
    let mut signal = wake.subscribe();
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        worker,
        in_flight: Mutex::new(HashSet::new()),
        sending: AtomicUsize::new(0),
        renewed_until: Mutex::new(None),
        next_due: Mutex::new(None),
        slot_freed: Notify::new(),
        records: Mutex::new(Some(tx)),
        give_up_at: Mutex::new(None),
    });
    // Everything runs inside sets owned by this future: aborting it stops them all, as a
    // crash would.
    let mut background = JoinSet::new();
    background.spawn(heartbeat(shared.clone()));
    background.spawn(housekeeping::run(shared.worker.clone(), shutdown.clone()));
    if let Store::Postgres(pool) = &shared.worker.store {
        background.spawn(listen(pool.clone(), wake.clone()));
    }
    let mut recorder = JoinSet::new();
    recorder.spawn(record_loop(shared.clone(), rx));
    let mut sends = JoinSet::new();
    dispatch_loop(&shared, &mut signal, &mut shutdown, &mut sends).await;

    *lock(&shared.give_up_at) = Some(Instant::now() + SHUTDOWN_GRACE);
    while sends.join_next().await.is_some() {}
    lock(&shared.records).take();
    while recorder.join_next().await.is_some() {}
    background.shutdown().await;
    tracing::info!("courier worker stopped");
}

async fn dispatch_loop(
    shared: &Arc<Shared>,
    signal: &mut watch::Receiver<u64>,
    shutdown: &mut watch::Receiver<bool>,
    sends: &mut JoinSet<()>,
) {
    let w = &shared.worker;
    let mut failing = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        signal.borrow_and_update();
        let free = shared.free_slots();
        let mut more = false;
        if free > 0 {
            let limit = u32::try_from(free).unwrap_or(u32::MAX).min(w.pull_count());
            let now = Utc::now();
            let lease = Lease {
                owner: w.id,
                until: now + w.lease(),
            };
            match w.store.claim_messages(now, &lease, limit).await {
                Ok(claimed) => {
                    if failing {
                        tracing::info!("the courier reaches the database again");
                        failing = false;
                    }
                    more = claimed.len() == limit as usize;
                    for c in claimed {
                        if shared.hold(c.message.id) {
                            sends.spawn(send_one(shared.clone(), c));
                        }
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "the courier cannot reach the database");
                        failing = true;
                    }
                }
            }
        }
        while sends.try_join_next().is_some() {}
        let full = shared.free_slots() == 0;
        if more && !full {
            continue;
        }
        let wait = shared.sleep_for(Utc::now());
        tokio::select! {
            // A message was queued: `courier.worker.wake_settle` lets the request that queued
            // it answer first (SECURITY.md C3) and a burst gather into one claim.
            _ = signal.changed() => {
                let settle = w.wake_settle();
                if !settle.is_zero() {
                    tokio::time::sleep(settle).await;
                }
            }
            () = tokio::time::sleep(wait) => {}
            () = shared.slot_freed.notified(), if full => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}

async fn send_one(shared: Arc<Shared>, c: ClaimedMessage) {
    let w = &shared.worker;
    let id = c.message.id;
    let now = Utc::now();
    let left = shared
        .lease_end(c.message.lease_expires_at)
        .map_or(chrono::Duration::zero(), |end| end - now);
    if left < w.lease() / 2 {
        // Too little lease left to be sure no other worker takes the message meanwhile.
        if let Err(e) = w.store.release_messages(w.id, &[id], now).await {
            tracing::warn!(message_id = %id, error = %e, "giving back a message failed; its lease will run out");
        }
        shared.answered();
        shared.done(id);
        return;
    }
    let record = w.attempt(&c, Utc::now).await;
    shared.answered();
    let keep = match c.message.expires_at {
        Some(exp) => (exp - Utc::now()).to_std().unwrap_or_default(),
        None => Duration::from_secs(24 * 3600),
    };
    shared.submit(Pending {
        record,
        keep_until: Instant::now() + keep.max(Duration::from_secs(1)),
    });
}

async fn record_loop(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let records: Vec<AttemptRecord> = batch.iter().map(|p| p.record.clone()).collect();
        let give_up = || {
            let now = Instant::now();
            batch.iter().all(|p| p.keep_until <= now)
                || lock(&shared.give_up_at).is_some_and(|t| now >= t)
        };
        if let Err(e) = shared.worker.record(&records, give_up).await {
            tracing::error!(error = %e, messages = records.len(),
                "gave up recording courier attempts; those messages will be sent again after their lease");
        }
        for r in &records {
            shared.note_retry(r);
            shared.done(r.message_id);
        }
    }
}

async fn heartbeat(shared: Arc<Shared>) {
    let w = &shared.worker;
    let every = (w.lease() / 5)
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_millis(50));
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        if lock(&shared.in_flight).is_empty() {
            continue;
        }
        let until = Utc::now() + w.lease();
        match w.store.renew_leases(w.id, until).await {
            Ok(_) => {
                *lock(&shared.renewed_until) = Some(until);
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "renewing the courier's leases failed");
                }
                failing = true;
            }
        }
    }
}

/// Wakes this process's couriers when another process queues a message (Postgres NOTIFY).
async fn listen(pool: crate::persistence::PgPool, wake: Arc<OutboxWake>) {
    // The listener's connection is its own, outside the store's pool.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(pool.connect_options().clone());
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(CHANNEL).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything queued while not listening is found by this claim.
        wake.wake();
        // `Ok(None)`: the connection was lost and made again, so notifications may be missed.
        while listener.try_recv().await.is_ok() {
            wake.wake();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::free_slots;

    #[test]
    fn a_lane_is_free_while_the_unrecorded_stay_within_twice_the_concurrency() {
        assert_eq!(free_slots(4, 0, 0), 4, "idle");
        assert_eq!(free_slots(4, 3, 3), 1, "three on the wire");
        assert_eq!(free_slots(4, 0, 3), 4, "three answered, not recorded yet");
        assert_eq!(free_slots(4, 2, 7), 1, "two on the wire, five waiting");
        assert_eq!(
            free_slots(4, 0, 8),
            0,
            "the recorder is two lane sets behind"
        );
        assert_eq!(free_slots(4, 4, 8), 0, "every lane busy, four waiting");
        assert_eq!(
            free_slots(1, 0, 1),
            1,
            "one lane: the next send while one is recorded"
        );
        assert_eq!(free_slots(1, 0, 2), 0, "but not a third");
    }
}
