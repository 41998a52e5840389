//! The courier's periodic chores: expiring messages whose content died before delivery
//! (every `pull_wait`) and purging the sealed texts of finished messages after their lifetime
//! (`courier.worker.purge_bodies_after`, checked every minute or as often as that setting
//! asks, in batches).

use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use super::metrics;
use super::worker::Worker;

const PURGE_AT_MOST_EVERY: Duration = Duration::from_secs(60);
const PURGE_BATCH: u32 = 500;

pub(super) async fn run(w: Worker, mut shutdown: watch::Receiver<bool>) {
    let cfg = w.courier.worker_config();
    let wait = cfg.pull_wait.std().max(Duration::from_millis(10));
    let keep = cfg.purge_bodies_after.chrono();
    let purge_every = cfg
        .purge_bodies_after
        .std()
        .clamp(wait, PURGE_AT_MOST_EVERY.max(wait));
    let mut last_purge: Option<Instant> = None;
    loop {
        let now = Utc::now();
        match w.store.expire_messages(now).await {
            Ok(expired) => expired.iter().for_each(|c| metrics::expired(*c)),
            Err(e) => tracing::debug!(error = %e, "expiring courier messages failed"),
        }
        if last_purge.is_none_or(|t| t.elapsed() >= purge_every) {
            last_purge = Some(Instant::now());
            purge(&w, now - keep).await;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
        }
    }
}

/// Purges in batches until a batch comes back short, so one run never holds a long lock.
async fn purge(w: &Worker, before: chrono::DateTime<Utc>) {
    let mut total = 0;
    loop {
        match w.store.purge_message_bodies(before, PURGE_BATCH).await {
            Ok(n) => {
                total += n;
                if n < u64::from(PURGE_BATCH) {
                    break;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "purging courier message bodies failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(
            messages = total,
            "purged the texts of finished courier messages"
        );
    }
}
