//! What the admin API accepts to create or replace an identity (Kratos's body shapes).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{AddressStatus, IdentityState};
use crate::schema::Via;

#[derive(Debug, Clone, Deserialize)]
pub struct IdentityInput {
    #[serde(default)]
    pub schema_id: Option<String>,
    pub traits: Value,
    #[serde(default)]
    pub state: Option<IdentityState>,
    #[serde(default)]
    pub metadata_public: Option<Value>,
    #[serde(default)]
    pub metadata_admin: Option<Value>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub credentials: Option<CredentialsInput>,
    /// Import: addresses may arrive already verified. Matched to the traits by channel and
    /// normalised value; entries that match no trait are ignored, as Kratos does.
    #[serde(default)]
    pub verifiable_addresses: Option<Vec<AddressInput>>,
    /// Accepted for Kratos compatibility; recovery addresses always follow the schema.
    #[serde(default)]
    pub recovery_addresses: Option<Vec<Value>>,
    #[serde(default)]
    pub organization_id: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CredentialsInput {
    #[serde(default)]
    pub password: Option<PasswordInput>,
    #[serde(default)]
    pub oidc: Option<OidcInput>,
}

#[derive(Clone, Deserialize)]
pub struct PasswordInput {
    pub config: PasswordConfigInput,
}

#[derive(Clone, Deserialize)]
pub struct PasswordConfigInput {
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub hashed_password: Option<String>,
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput([REDACTED])")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OidcInput {
    pub config: OidcConfigInput,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OidcConfigInput {
    #[serde(default)]
    pub providers: Vec<OidcProviderInput>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct OidcProviderInput {
    pub provider: String,
    pub subject: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AddressInput {
    pub value: String,
    pub via: Via,
    #[serde(default)]
    pub verified: bool,
    #[serde(default)]
    pub status: Option<AddressStatus>,
    #[serde(default)]
    pub verified_at: Option<DateTime<Utc>>,
}
