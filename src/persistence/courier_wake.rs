//! Waking couriers when a message is queued, so that none waits for its next poll.
//!
//! `insert_message` marks the unit of work it runs in (a task-local flag that `dispatch!` sets
//! around every store call). Once that unit of work has returned `Ok`, it has committed, and
//! `dispatch!` signals the couriers of this process that use the same database: the wake comes
//! after the commit, never before it, and no caller has to remember it. On Postgres a process
//! that runs no courier of its own (`serve` with `courier.worker.enabled: false`) also sends a
//! `NOTIFY` after the commit, which the couriers of other processes (`verity courier watch`)
//! `LISTEN` for. Polling stays as the fallback for a missed wake-up.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::watch;

use super::{Store, StoreError};

/// The Postgres notification channel couriers listen on.
pub const CHANNEL: &str = "verity_courier";

tokio::task_local! {
    static QUEUED: Cell<bool>;
}

/// Called by `insert_message`: the running unit of work queues a message.
pub(crate) fn mark_queued() {
    let _ = QUEUED.try_with(|q| q.set(true));
}

/// Runs one unit of work; when it queued a message and succeeded (committed), wakes couriers.
pub(crate) async fn after_commit<T>(
    store: &Store,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let (result, queued) = QUEUED
        .scope(Cell::new(false), async {
            let r = work.await;
            (r, QUEUED.with(Cell::get))
        })
        .await;
    if queued && result.is_ok() {
        store.outbox_wake().queued(store);
    }
    result
}

/// The wake-up signal of one database (one pool) in this process.
#[derive(Debug)]
pub struct OutboxWake {
    signal: watch::Sender<u64>,
    couriers: AtomicUsize,
    notify_pending: AtomicBool,
}

impl OutboxWake {
    fn new() -> Self {
        Self {
            signal: watch::Sender::new(0),
            couriers: AtomicUsize::new(0),
            notify_pending: AtomicBool::new(false),
        }
    }

    /// A receiver that sees every wake-up after this call (`changed()` resolves).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.signal.subscribe()
    }

    /// Wakes this process's couriers of the database.
    pub fn wake(&self) {
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Counts a running courier until the guard is dropped; while one runs, this process does
    /// not NOTIFY others about its own messages (its courier sends them at once).
    pub fn courier_running(self: &Arc<Self>) -> CourierRunning {
        self.couriers.fetch_add(1, Ordering::SeqCst);
        CourierRunning(self.clone())
    }

    fn queued(self: &Arc<Self>, store: &Store) {
        self.wake();
        let Store::Postgres(pool) = store else { return };
        if self.couriers.load(Ordering::SeqCst) > 0
            || self.notify_pending.swap(true, Ordering::SeqCst)
        {
            return;
        }
        // One NOTIFY in flight at a time: a message committed while it is pending is covered,
        // because the flag is cleared before the NOTIFY is sent.
        let (pool, me) = (pool.clone(), self.clone());
        tokio::spawn(async move {
            me.notify_pending.store(false, Ordering::SeqCst);
            let sent = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool)
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "NOTIFY for the couriers failed; they will poll");
            }
        });
    }
}

/// Keeps a courier counted as running; see `OutboxWake::courier_running`.
#[derive(Debug)]
pub struct CourierRunning(Arc<OutboxWake>);

impl Drop for CourierRunning {
    fn drop(&mut self) {
        self.0.couriers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One signal per pool, found by the address of the pool's shared connect options (stable
/// while the pool lives). A process normally has one; tests have many.
static REGISTRY: LazyLock<Mutex<HashMap<usize, Arc<OutboxWake>>>> = LazyLock::new(Default::default);

fn pool_key(store: &Store) -> usize {
    match store {
        Store::Postgres(p) => Arc::as_ptr(&p.connect_options()).addr(),
        Store::Sqlite(p) => Arc::as_ptr(&p.connect_options()).addr(),
    }
}

impl Store {
    /// The wake-up signal of this store's couriers.
    pub fn outbox_wake(&self) -> Arc<OutboxWake> {
        let key = pool_key(self);
        let mut map = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key)
            .or_insert_with(|| Arc::new(OutboxWake::new()))
            .clone()
    }

    pub(super) fn forget_outbox_wake(&self) {
        let key = pool_key(self);
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}
