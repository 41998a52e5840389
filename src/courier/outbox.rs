//! The outbox as the admin API and the dev inbox read it: message pages, one message with its
//! dispatch attempts, and the backlog per channel for `/metrics`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::metrics::Backlog;
use crate::persistence::Store;
use crate::service::ServiceError;

pub use crate::persistence::{Dispatch, MessageFilter, MessagePage};

use super::OutboxMessage;

/// Read access to the outbox (the worker writes it; flows add to it in their transactions).
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
}

impl Outbox {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Newest first, `limit` messages older than `before`.
    pub async fn list(
        &self,
        filter: &MessageFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<MessagePage, ServiceError> {
        Ok(self.store.list_messages(filter, before, limit).await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<(OutboxMessage, Vec<Dispatch>), ServiceError> {
        self.store
            .get_message(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Messages waiting per channel, and the age of the oldest.
    pub async fn backlog(&self, now: DateTime<Utc>) -> Result<Vec<Backlog>, ServiceError> {
        Ok(self.store.courier_backlog(now).await?)
    }
}
