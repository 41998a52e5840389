//! The operator's side of the partner API: API keys (created, listed, revoked, topped up)
//! and the list of phone verifications, for the admin handlers.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{PhoneService, keys};
use crate::persistence::phone::{DeliveryRow, PhoneRequestRow};
use crate::service::ServiceError;

pub use crate::persistence::phone::ApiKey;

/// A key as created: the record and its secret, which is shown this once and never stored
/// (`Debug` leaves it out).
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// One phone verification as the operator sees it (never its code).
#[derive(Debug)]
pub struct PhoneRequestView {
    pub request: PhoneRequestRow,
    /// `(channel, sent_at)` of each message or call, `voice` shown as `call`.
    pub channels: Vec<(String, DateTime<Utc>)>,
}

impl PhoneService {
    pub async fn create_api_key(
        &self,
        name: String,
        credits: i64,
        now: DateTime<Utc>,
    ) -> Result<CreatedKey, ServiceError> {
        let secret = keys::new_secret();
        let key = ApiKey {
            id: Uuid::new_v4(),
            name,
            key: keys::new_key(),
            credits,
            revoked_at: None,
            created_at: now,
        };
        let hash = keys::hash_secret(&self.keyring, &secret);
        self.store.create_api_key(&key, &hash).await?;
        Ok(CreatedKey { key, secret })
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.list_api_keys().await?)
    }

    /// `NotFound` for an unknown or already revoked key.
    pub async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), ServiceError> {
        match self.store.revoke_api_key(id, now).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound),
        }
    }

    /// The new balance after adding `add` credits.
    pub async fn add_credits(&self, id: Uuid, add: i64) -> Result<i64, ServiceError> {
        self.store
            .add_api_key_credits(id, add)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The newest `limit` verifications with their delivery history.
    pub async fn list_requests(&self, limit: i64) -> Result<Vec<PhoneRequestView>, ServiceError> {
        let (rows, deliveries): (Vec<PhoneRequestRow>, Vec<DeliveryRow>) =
            self.store.list_phone_requests(limit).await?;
        Ok(rows
            .into_iter()
            .map(|request| {
                let channels = deliveries
                    .iter()
                    .filter(|d| d.request_id == request.id)
                    .map(|d| {
                        let channel = if d.channel == "voice" {
                            "call"
                        } else {
                            &d.channel
                        };
                        (channel.to_owned(), d.sent_at)
                    })
                    .collect();
                PhoneRequestView { request, channels }
            })
            .collect())
    }
}
