//! The error the domain services answer the HTTP layer with: what went wrong, in terms a
//! handler can turn into a status, never a database type (`http/` does not import
//! `persistence/`). Store errors are mapped here, once.

use crate::metrics::PoolUsage;
use crate::persistence::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The record asked for does not exist.
    #[error("the resource does not exist")]
    NotFound,
    /// A unique constraint refused the write.
    #[error("the record conflicts with an existing one")]
    Conflict,
    /// The database cannot be reached; the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Anything else: the server's fault.
    #[error("the store failed")]
    Unexpected(#[source] StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(e),
            StoreError::Conflict(_) => Self::Conflict,
            other => Self::Unexpected(other),
        }
    }
}

/// The database as the health and metrics endpoints see it.
#[derive(Debug, Clone)]
pub struct Database {
    store: Store,
}

impl Database {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    /// This process's connection pool: open, idle and the limit.
    pub fn pool_usage(&self) -> PoolUsage {
        self.store.pool_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_meaning() {
        let unavailable = StoreError::Unavailable(sqlx::Error::PoolTimedOut);
        assert!(matches!(
            ServiceError::from(unavailable),
            ServiceError::Unavailable(_)
        ));
        let conflict = StoreError::Conflict(sqlx::Error::RowNotFound);
        assert!(matches!(
            ServiceError::from(conflict),
            ServiceError::Conflict
        ));
        let corrupt = StoreError::Corrupt("x".into());
        assert!(matches!(
            ServiceError::from(corrupt),
            ServiceError::Unexpected(_)
        ));
    }
}
