//! Self-service errors kept for the error UI (Kratos's error flow): a browser request that
//! fails outside a flow is sent to `error.ui_url?id=`, and the UI reads the error back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::flow::core::FlowError;
use crate::persistence::Store;
use crate::persistence::errors::StoredError;

/// Stored errors older than this are deleted; the error UI reads them right after the 303.
const KEEP_ERRORS: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// Every this many stored errors, old ones are purged.
const PURGE_ERRORS_EVERY: u64 = 50;

#[derive(Clone, Debug)]
pub struct ErrorReports {
    store: Store,
    stored: Arc<AtomicU64>,
}

impl ErrorReports {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            stored: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Keeps `error` (the error object of Kratos's envelope) and returns its id; now and then
    /// old errors are purged.
    pub async fn keep(&self, error: Value, now: DateTime<Utc>) -> Result<Uuid, FlowError> {
        let stored = StoredError {
            id: Uuid::new_v4(),
            error,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_selfservice_error(&stored).await?;
        let n = self.stored.fetch_add(1, Ordering::Relaxed);
        if n % PURGE_ERRORS_EVERY == PURGE_ERRORS_EVERY - 1 {
            // Housekeeping must not turn this answer into another error.
            match self.store.purge_errors(now - KEEP_ERRORS).await {
                Ok(deleted) => tracing::debug!(deleted, "purged old self-service errors"),
                Err(e) => tracing::warn!(error = %e, "purging self-service errors failed"),
            }
        }
        Ok(stored.id)
    }

    /// `{id, error, created_at, updated_at}` of a kept error.
    pub async fn find(&self, id: Uuid) -> Result<Option<Value>, FlowError> {
        let found = self.store.get_selfservice_error(id).await?;
        Ok(found.map(|e| {
            json!({
                "id": e.id,
                "error": e.error,
                "created_at": e.created_at,
                "updated_at": e.updated_at,
            })
        }))
    }
}
