//! Waking couriers when a message is queued, so that none waits for its next poll.
//!
//! `insert_message` marks the unit of work it runs in (a task-local flag that `dispatch!` sets
//! around every store call). Once that unit of work has returned `Ok`, it has committed, and
//! `dispatch!` signals the couriers of this process that use the same database: the wake comes
//! after the commit, never before it, and no caller has to remember it. On Postgres a process
//! that runs no courier of its own (`serve` with `courier.worker.enabled: false`) also sends a
//! `NOTIFY` after the commit, which the couriers of other processes (`verity courier watch`)
//! `LISTEN` for. Polling stays as the fallback for a missed wake-up.
//!
//! Inside an HTTP request (`hold_wakes`, a middleware around every handler) the wake-up is
//! held until the response has been written, or dropped unwritten: the request that queued a
//! message answers before its delivery competes with it for the CPU (with
//! `courier.worker.wake_settle` one tick more), so a real message's send answers as fast as a
//! decoy's, which wakes no one (SECURITY.md C3). A held wake-up is never lost: dropping it, on
//! any path, wakes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::watch;

use super::{Store, StoreError};

/// The Postgres notification channel couriers listen on.
pub const CHANNEL: &str = "verity_courier";

tokio::task_local! {
    static QUEUED: Cell<bool>;
    static HELD: RefCell<HeldWakes>;
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
        let wake = store.outbox_wake();
        let held = HELD.try_with(|h| h.borrow_mut().hold(&wake, store));
        if held.is_err() {
            wake.queued(store);
        }
    }
    result
}

/// Wake-ups held back by `hold_wakes`; given when released or dropped.
#[derive(Default)]
pub struct HeldWakes(Vec<(Arc<OutboxWake>, Store)>);

impl HeldWakes {
    fn hold(&mut self, wake: &Arc<OutboxWake>, store: &Store) {
        // One wake-up per database covers every message the request queued there.
        if !self.0.iter().any(|(w, _)| Arc::ptr_eq(w, wake)) {
            self.0.push((wake.clone(), store.clone()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for HeldWakes {
    fn drop(&mut self) {
        for (wake, store) in self.0.drain(..) {
            wake.queued(&store);
        }
    }
}

impl std::fmt::Debug for HeldWakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldWakes")
            .field("wakes", &self.0.len())
            .finish()
    }
}

/// Runs `work` (an HTTP handler) holding back the couriers' wake-ups of what it commits;
/// the caller releases them by dropping the `HeldWakes` once the response is written.
pub async fn hold_wakes<F: Future>(work: F) -> (F::Output, HeldWakes) {
    HELD.scope(RefCell::new(HeldWakes::default()), async {
        let out = work.await;
        (out, HELD.with(|h| std::mem::take(&mut *h.borrow_mut())))
    })
    .await
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
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.notify_pending.store(false, Ordering::SeqCst);
            return;
        };
        let (pool, me) = (pool.clone(), self.clone());
        runtime.spawn(async move {
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
        Store::Postgres(p) => p.key(),
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

    pub(crate) fn forget_outbox_wake(&self) {
        let key = pool_key(self);
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn queue_one(store: &Store) -> Result<(), StoreError> {
        after_commit(store, async {
            mark_queued();
            Ok(())
        })
        .await
    }

    #[tokio::test]
    async fn a_wake_up_is_held_until_released_and_given_once() {
        let store = Store::connect_lazy("memory").unwrap();
        let mut signal = store.outbox_wake().subscribe();
        let before = *signal.borrow_and_update();
        let ((), held) = hold_wakes(async {
            queue_one(&store).await.unwrap();
            queue_one(&store).await.unwrap();
        })
        .await;
        assert!(!signal.has_changed().unwrap(), "woken before the release");
        assert!(!held.is_empty());
        drop(held);
        assert!(signal.has_changed().unwrap(), "the release wakes");
        assert_eq!(
            *signal.borrow_and_update(),
            before.wrapping_add(1),
            "one wake-up for the request"
        );
        store.forget_outbox_wake();
    }

    #[tokio::test]
    async fn outside_a_request_a_commit_wakes_at_once_and_a_failure_does_not() {
        let store = Store::connect_lazy("memory").unwrap();
        let signal = store.outbox_wake().subscribe();
        let failed: Result<(), _> = after_commit(&store, async {
            mark_queued();
            Err(StoreError::Corrupt("rolled back".into()))
        })
        .await;
        assert!(failed.is_err());
        assert!(!signal.has_changed().unwrap(), "a rolled-back queue woke");
        queue_one(&store).await.unwrap();
        assert!(signal.has_changed().unwrap());
        store.forget_outbox_wake();
    }

    #[tokio::test]
    async fn a_request_that_fails_after_committing_still_wakes() {
        let store = Store::connect_lazy("memory").unwrap();
        let signal = store.outbox_wake().subscribe();
        let queuer = store.clone();
        let joined = tokio::spawn(async move {
            hold_wakes(async {
                queue_one(&queuer).await.unwrap();
                panic!("the handler fails after the commit");
            })
            .await
        })
        .await;
        assert!(joined.is_err());
        assert!(signal.has_changed().unwrap(), "the held wake-up was lost");
        store.forget_outbox_wake();
    }
}
