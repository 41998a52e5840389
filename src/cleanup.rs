//! Removing what has outlived its use (expired flows, spent codes, expired sessions, the texts
//! of sent messages, old self-service errors, and with `identity.unverified_lifespan` the
//! identities that never verified an address): `verity cleanup sql` runs it once, and
//! `database.cleanup.every` runs it in the server on a schedule. Batches are bounded, so a
//! live database is never locked for long; several nodes may run it at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::{CleanupConfig, Settings};
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
    /// `identity.unverified_lifespan`: never-verified identities older than this go too.
    pub unverified_lifespan: Option<chrono::Duration>,
}

impl Plan {
    pub fn from_config(cfg: &CleanupConfig) -> Self {
        Self {
            keep_last: cfg.older_than.chrono(),
            batch: cfg.batch_size.max(1),
            sleep_tables: cfg.sleep.tables.std(),
            unverified_lifespan: None,
        }
    }

    /// The plan of `database.cleanup`, with the identities' lifespan.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            unverified_lifespan: settings.identity.unverified_lifespan.map(|l| l.chrono()),
            ..Self::from_config(&settings.database.cleanup)
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
        out.push((target, drain(store, target, cutoff, plan.batch).await?));
    }
    if let Some(lifespan) = plan.unverified_lifespan {
        let target = CleanupTarget::UnverifiedIdentities;
        let removed = drain(store, target, now - lifespan, plan.batch).await?;
        if removed > 0 {
            crate::audit::event(crate::audit::AuditEvent::UnverifiedIdentitiesExpired(
                removed,
            ));
        }
        out.push((target, removed));
    }
    Ok(out)
}

/// Batch after batch of `target` until one comes back short; the total removed.
async fn drain(
    store: &Store,
    target: CleanupTarget,
    cutoff: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let removed = store.cleanup_batch(target, cutoff, batch).await?;
        total += removed;
        if removed < u64::from(batch) {
            return Ok(total);
        }
        // Let other writers in between two batches.
        tokio::task::yield_now().await;
    }
}

/// The in-process schedule: a run every `every` until shutdown.
pub async fn schedule(
    store: Store,
    plan: Plan,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
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
