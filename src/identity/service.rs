//! Create, replace, patch and delete identities: validate, derive, persist in one write.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::assemble::{merge_addresses, merge_credentials, merge_recovery};
use super::{AddressInput, Identity, IdentityInput, IdentityState};
use crate::hash::{HashError, PasswordHasher, check_imported};
use crate::persistence::{IdentityPage, Store, StoreError};
use crate::schema::{Derived, SchemaRegistry, TraitError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity schema {0:?} is not configured")]
    UnknownSchema(String),
    #[error("the traits do not match the identity schema")]
    Validation(Vec<TraitError>),
    #[error("{0}")]
    Invalid(String),
    #[error("this identity conflicts with another identity that already exists")]
    Conflict,
    #[error("the identity does not exist")]
    NotFound,
    /// The identity has no credential of the type (or identifier) named: 404 with this text.
    #[error("{0}")]
    CredentialNotFound(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

#[derive(Clone, Debug)]
pub struct IdentityService {
    pub(super) store: Store,
    schemas: Arc<SchemaRegistry>,
    hasher: PasswordHasher,
}

/// Longest password accepted; longer ones are refused before any hashing work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

impl IdentityService {
    pub fn new(store: Store, schemas: Arc<SchemaRegistry>, hasher: PasswordHasher) -> Self {
        Self {
            store,
            schemas,
            hasher,
        }
    }

    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    pub async fn get(&self, id: Uuid) -> Result<Identity, IdentityError> {
        self.store
            .get_identity(id)
            .await?
            .ok_or(IdentityError::NotFound)
    }

    pub async fn list(
        &self,
        after: Option<Uuid>,
        limit: u32,
        identifier: Option<&str>,
    ) -> Result<IdentityPage, IdentityError> {
        let identifier = identifier.map(|s| s.trim().to_lowercase());
        Ok(self
            .store
            .list_identities(after, limit, identifier.as_deref())
            .await?)
    }

    /// How many identities exist.
    pub async fn count(&self) -> Result<u64, IdentityError> {
        Ok(self.store.count_identities().await?)
    }

    pub async fn delete(&self, id: Uuid) -> Result<(), IdentityError> {
        if self.store.delete_identity(id).await? {
            Ok(())
        } else {
            Err(IdentityError::NotFound)
        }
    }

    pub async fn create(
        &self,
        input: IdentityInput,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        let identity = self.build(None, input, None, now).await?;
        self.store.insert_identity(&identity).await?;
        Ok(identity)
    }

    /// A new identity built (password hashed) but not stored, for flows that store it
    /// together with other rows. `derived` is what the flow already got from evaluating the
    /// same traits against the same schema, so they are not evaluated twice.
    pub async fn prepare(
        &self,
        input: IdentityInput,
        derived: Derived,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        self.build(None, input, Some(derived), now).await
    }

    /// An identity changed by a flow, validated (password hashed) but not yet stored, for
    /// flows that store it together with other rows.
    pub async fn prepare_update(
        &self,
        existing: &Identity,
        input: IdentityInput,
        derived: Option<Derived>,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        self.build(Some(existing), input, derived, now).await
    }

    /// PUT: the body replaces schema, traits, state and metadata.
    pub async fn replace(
        &self,
        id: Uuid,
        input: IdentityInput,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        let existing = self.get(id).await?;
        let identity = self.build(Some(&existing), input, None, now).await?;
        self.save(identity).await
    }

    /// PATCH with an RFC 6902 document over the identity's JSON (as the admin API shows it).
    pub async fn patch(
        &self,
        id: Uuid,
        patch: json_patch::Patch,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        let existing = self.get(id).await?;
        let mut doc =
            serde_json::to_value(&existing).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        json_patch::patch(&mut doc, &patch).map_err(|e| {
            IdentityError::Invalid(format!("the JSON patch could not be applied: {e}"))
        })?;
        for (field, before) in [
            ("id", json!(existing.id)),
            ("created_at", json!(existing.created_at)),
        ] {
            if doc.get(field) != Some(&before) {
                return Err(IdentityError::Invalid(format!(
                    "the field {field:?} can not be changed"
                )));
            }
        }
        let mut input: IdentityInput = serde_json::from_value(doc)
            .map_err(|e| IdentityError::Invalid(format!("the patched identity is invalid: {e}")))?;
        input.credentials = None;
        let identity = self.build(Some(&existing), input, None, now).await?;
        self.save(identity).await
    }

    async fn save(&self, identity: Identity) -> Result<Identity, IdentityError> {
        if self.store.update_identity(&identity).await? {
            Ok(identity)
        } else {
            Err(IdentityError::NotFound)
        }
    }

    async fn build(
        &self,
        existing: Option<&Identity>,
        input: IdentityInput,
        evaluated: Option<Derived>,
        now: DateTime<Utc>,
    ) -> Result<Identity, IdentityError> {
        let schema_id = input
            .schema_id
            .clone()
            .or_else(|| existing.map(|e| e.schema_id.clone()))
            .unwrap_or_else(|| self.schemas.default_id().to_owned());
        let schema = self
            .schemas
            .get(&schema_id)
            .ok_or_else(|| IdentityError::UnknownSchema(schema_id.clone()))?;
        if !input.traits.is_object() {
            return Err(IdentityError::Invalid(
                "traits must be a JSON object".into(),
            ));
        }
        let derived = match evaluated {
            Some(d) => d,
            None => schema
                .evaluate(&input.traits)
                .map_err(IdentityError::Validation)?,
        };
        let credentials = input.credentials.clone().unwrap_or_default();
        let password_config = match credentials.password {
            None => None,
            Some(p) => Some(
                self.password_config(p.config.password, p.config.hashed_password)
                    .await?,
            ),
        };
        let oidc = credentials
            .oidc
            .map(|o| json!({"providers": o.config.providers}));
        let overrides: Vec<AddressInput> = input.verifiable_addresses.clone().unwrap_or_default();
        let previous = existing
            .map(|e| e.verifiable_addresses.as_slice())
            .unwrap_or_default();
        let state = input
            .state
            .or(existing.map(|e| e.state))
            .unwrap_or(IdentityState::Active);
        let state_changed_at = match existing {
            Some(e) if e.state == state => e.state_changed_at,
            Some(_) => Some(now),
            None => None,
        };
        Ok(Identity {
            id: existing.map_or_else(Uuid::new_v4, |e| e.id),
            schema_id,
            state,
            state_changed_at,
            verifiable_addresses: merge_addresses(&derived.verifiable, previous, &overrides, now),
            recovery_addresses: merge_recovery(
                &derived.recovery,
                existing
                    .map(|e| e.recovery_addresses.as_slice())
                    .unwrap_or_default(),
                now,
            ),
            credentials: merge_credentials(
                &derived,
                existing
                    .map(|e| e.credentials.as_slice())
                    .unwrap_or_default(),
                password_config,
                oidc,
                now,
            ),
            traits: input.traits,
            metadata_public: input.metadata_public.filter(|v| !v.is_null()),
            metadata_admin: input.metadata_admin.filter(|v| !v.is_null()),
            external_id: input.external_id,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        })
    }

    async fn password_config(
        &self,
        password: Option<String>,
        hashed: Option<String>,
    ) -> Result<Value, IdentityError> {
        match (password, hashed) {
            (Some(_), Some(_)) => Err(IdentityError::Invalid(
                "give either credentials.password.config.password or hashed_password, not both"
                    .into(),
            )),
            (Some(p), None) => {
                if p.len() > MAX_PASSWORD_BYTES {
                    return Err(IdentityError::Invalid(format!(
                        "the password is longer than {MAX_PASSWORD_BYTES} bytes"
                    )));
                }
                let p = crate::password::normalize(&p);
                Ok(json!({"hashed_password": self.hasher.hash(p).await?}))
            }
            (None, Some(h)) => match check_imported(&h) {
                Ok(()) => Ok(json!({"hashed_password": h})),
                Err(why) => Err(IdentityError::Invalid(format!(
                    "credentials.password.config.hashed_password cannot be used: {why}"
                ))),
            },
            (None, None) => Ok(json!({})),
        }
    }
}
