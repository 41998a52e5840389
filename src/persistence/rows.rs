//! Rows as the database returns them, and their conversion to domain types.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::StoreError;
use crate::identity::{
    AddressStatus, Credential, Identity, IdentityState, RecoveryAddress, VerifiableAddress,
};
use crate::schema::Via;

#[derive(sqlx::FromRow)]
pub(super) struct IdentityRow {
    pub id: Uuid,
    pub schema_id: String,
    pub traits: Json<Value>,
    pub state: String,
    pub state_changed_at: Option<DateTime<Utc>>,
    pub metadata_public: Option<Json<Value>>,
    pub metadata_admin: Option<Json<Value>>,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct AddressRow {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub via: String,
    pub value: String,
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct RecoveryRow {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub via: String,
    pub value: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    pub id: Uuid,
    pub identity_id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub config: Json<Value>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct IdentifierRow {
    pub identity_credential_id: Uuid,
    pub identifier: String,
}

/// Everything that belongs to a set of identities, fetched in one round trip per table.
#[derive(Default)]
pub(super) struct Children {
    pub addresses: Vec<AddressRow>,
    pub recovery: Vec<RecoveryRow>,
    pub credentials: Vec<CredentialRow>,
    pub identifiers: Vec<IdentifierRow>,
}

fn via(s: &str) -> Result<Via, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown address channel {s:?}")))
}

pub(super) fn assemble(
    rows: Vec<IdentityRow>,
    children: Children,
) -> Result<Vec<Identity>, StoreError> {
    let mut identifiers: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in children.identifiers {
        identifiers
            .entry(row.identity_credential_id)
            .or_default()
            .push(row.identifier);
    }
    let mut addresses: HashMap<Uuid, Vec<VerifiableAddress>> = HashMap::new();
    for a in children.addresses {
        let status = AddressStatus::parse(&a.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown address status {:?}", a.status)))?;
        addresses
            .entry(a.identity_id)
            .or_default()
            .push(VerifiableAddress {
                id: a.id,
                value: a.value,
                verified: a.verified,
                via: via(&a.via)?,
                status,
                verified_at: a.verified_at,
                created_at: a.created_at,
                updated_at: a.updated_at,
            });
    }
    let mut recovery: HashMap<Uuid, Vec<RecoveryAddress>> = HashMap::new();
    for r in children.recovery {
        recovery
            .entry(r.identity_id)
            .or_default()
            .push(RecoveryAddress {
                id: r.id,
                value: r.value,
                via: via(&r.via)?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            });
    }
    let mut credentials: HashMap<Uuid, Vec<Credential>> = HashMap::new();
    for c in children.credentials {
        let mut ids = identifiers.remove(&c.id).unwrap_or_default();
        ids.sort();
        credentials
            .entry(c.identity_id)
            .or_default()
            .push(Credential {
                id: c.id,
                kind: c.kind,
                identifiers: ids,
                config: c.config.0,
                version: c.version,
                created_at: c.created_at,
                updated_at: c.updated_at,
            });
    }
    rows.into_iter()
        .map(|r| {
            let state = IdentityState::parse(&r.state).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown identity state {:?}", r.state))
            })?;
            let mut verifiable_addresses = addresses.remove(&r.id).unwrap_or_default();
            verifiable_addresses.sort_by_key(|a| (a.created_at, a.id));
            let mut recovery_addresses = recovery.remove(&r.id).unwrap_or_default();
            recovery_addresses.sort_by_key(|a| (a.created_at, a.id));
            let mut creds = credentials.remove(&r.id).unwrap_or_default();
            creds.sort_by(|a, b| a.kind.cmp(&b.kind));
            Ok(Identity {
                id: r.id,
                schema_id: r.schema_id,
                state,
                state_changed_at: r.state_changed_at,
                traits: r.traits.0,
                verifiable_addresses,
                recovery_addresses,
                metadata_public: r.metadata_public.map(|j| j.0),
                metadata_admin: r.metadata_admin.map(|j| j.0),
                credentials: creds,
                external_id: r.external_id,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}
