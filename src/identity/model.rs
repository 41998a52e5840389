//! The identity as stored and as the admin API shows it (Kratos's JSON field names).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::schema::Via;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub id: Uuid,
    pub schema_id: String,
    pub state: IdentityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<DateTime<Utc>>,
    pub traits: Value,
    pub verifiable_addresses: Vec<VerifiableAddress>,
    pub recovery_addresses: Vec<RecoveryAddress>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
    #[serde(skip)]
    pub credentials: Vec<Credential>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityState {
    Active,
    Inactive,
}

impl IdentityState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// `pending` (derived from traits) -> `sent` (a code or link went out) -> `completed` (verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressStatus {
    Pending,
    Sent,
    Completed,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Completed => "completed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifiableAddress {
    pub id: Uuid,
    pub value: String,
    pub verified: bool,
    pub via: Via,
    pub status: AddressStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryAddress {
    pub id: Uuid,
    pub value: String,
    pub via: Via,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A credential of one type (`password`, `code`, `oidc`, ...). `config` holds secrets such as
/// the password hash, so `Debug` leaves it out and the admin API strips it unless asked.
#[derive(Clone, PartialEq)]
pub struct Credential {
    pub id: Uuid,
    pub kind: String,
    pub identifiers: Vec<String>,
    pub config: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("identifiers", &self.identifiers)
            .field("config", &"[REDACTED]")
            .finish()
    }
}

/// Which addresses must be verified for the identity to count as verified.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedRule {
    #[default]
    Any,
    All,
}

impl Identity {
    /// An identity without verifiable addresses is never verified.
    pub fn is_verified(&self, rule: VerifiedRule) -> bool {
        let mut addresses = self.verifiable_addresses.iter();
        match rule {
            VerifiedRule::Any => addresses.any(|a| a.verified),
            VerifiedRule::All => {
                !self.verifiable_addresses.is_empty() && addresses.all(|a| a.verified)
            }
        }
    }

    pub fn credential(&self, kind: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_debug_hides_the_hash() {
        let now = Utc::now();
        let c = Credential {
            id: Uuid::nil(),
            kind: "password".into(),
            identifiers: vec!["a@b.c".into()],
            config: serde_json::json!({"hashed_password": "$argon2id$secret"}),
            version: 0,
            created_at: now,
            updated_at: now,
        };
        assert!(!format!("{c:?}").contains("argon2id"));
    }
}
