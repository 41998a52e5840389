//! Removing what has outlived its use (expired flows, spent codes, expired sessions, the texts
//! of sent messages, old self-service errors): `verity cleanup sql` runs it once, and
//! `database.cleanup.every` runs it in the server on a schedule. Batches are bounded, so a
//! live database is never locked for long; several nodes may run it at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::CleanupConfig;
use crate::persistence::cleanup::CleanupTarget;
use crate::persistence::{Store, StoreError};

/// One run's settings.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rows are kept until this long after their end (Kratos's `--keep-last`).
    pub keep_last: chrono::Duration,
    /// Rows per statement.
    pub batch: u32,
    /// Pause between two tables.
    pub sleep_tables: Duration,
}

impl Plan {
    pub fn from_config(cfg: &CleanupConfig) -> Self {
        Self {
            keep_last: cfg.older_than.chrono(),
            batch: cfg.batch_size.max(1),
            sleep_tables: cfg.sleep.tables.std(),
        }
    }
}

/// Runs every target to the end, batch after batch; how many rows each lost.
pub async fn run_once(
    store: &Store,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<Vec<(CleanupTarget, u64)>, StoreError> {
    let cutoff = now - plan.keep_last;
    let mut out = Vec::new();
    for (i, target) in CleanupTarget::ALL.into_iter().enumerate() {
        if i > 0 && !plan.sleep_tables.is_zero() {
            tokio::time::sleep(plan.sleep_tables).await;
        }
        let mut total = 0;
        loop {
            let removed = store.cleanup_batch(target, cutoff, plan.batch).await?;
            total += removed;
            if removed < u64::from(plan.batch) {
                break;
            }
            // Let other writers in between two batches.
            tokio::task::yield_now().await;
        }
        out.push((target, total));
    }
    Ok(out)
}

/// The in-process schedule: a run every `every` until shutdown.
pub async fn schedule(
    store: Store,
    cfg: CleanupConfig,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let plan = Plan::from_config(&cfg);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
        }
        match run_once(&store, plan, Utc::now()).await {
            Ok(counts) => {
                let removed: u64 = counts.iter().map(|(_, n)| n).sum();
                tracing::info!(removed, "scheduled cleanup done");
            }
            Err(e) => {
                tracing::warn!(error = %e, "scheduled cleanup failed; retrying at the next run")
            }
        }
    }
}
