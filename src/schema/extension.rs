//! The shape of the `ory.sh/kratos` schema extension (Kratos's
//! `embedx/identity_extension.schema.json`: every level rejects unknown fields).

use serde::Deserialize;
use serde_json::Value;

use super::address::Via;

pub(crate) const KEYWORD: &str = "ory.sh/kratos";

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Extension {
    #[serde(default)]
    pub credentials: Credentials,
    pub verification: Option<ViaConfig>,
    pub recovery: Option<ViaConfig>,
    pub organizations: Option<Organizations>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    pub password: Option<IdentifierConfig>,
    pub webauthn: Option<IdentifierConfig>,
    pub passkey: Option<PasskeyConfig>,
    pub totp: Option<TotpConfig>,
    pub code: Option<CodeConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentifierConfig {
    #[serde(default)]
    pub identifier: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyConfig {
    #[serde(default)]
    pub display_name: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpConfig {
    #[serde(default)]
    pub account_name: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeConfig {
    #[serde(default)]
    pub identifier: bool,
    pub via: Option<Via>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViaConfig {
    pub via: Option<Via>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Organizations {
    pub matcher: Option<OrganizationMatcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OrganizationMatcher {
    EmailDomain,
}

impl Extension {
    pub fn parse(value: &Value) -> Result<Self, String> {
        let ext = Extension::deserialize(value).map_err(|e| e.to_string())?;
        // Kratos only notices this when an identity is written; failing at startup is kinder.
        if let Some(code) = &ext.credentials.code
            && code.identifier
            && code.via.is_none()
        {
            return Err(
                "credentials.code.identifier needs credentials.code.via (email or sms)".into(),
            );
        }
        Ok(ext)
    }

    pub fn password_identifier(&self) -> bool {
        self.credentials
            .password
            .as_ref()
            .is_some_and(|p| p.identifier)
    }

    pub fn code_via(&self) -> Option<Via> {
        self.credentials
            .code
            .as_ref()
            .filter(|c| c.identifier)
            .and_then(|c| c.via)
    }

    pub fn verification_via(&self) -> Option<Via> {
        self.verification.as_ref().and_then(|v| v.via)
    }

    pub fn recovery_via(&self) -> Option<Via> {
        self.recovery.as_ref().and_then(|v| v.via)
    }

    /// One line for `verity schema validate`, e.g. `password identifier; verification via email`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.password_identifier() {
            parts.push("password identifier".to_owned());
        }
        if let Some(via) = self.code_via() {
            parts.push(format!("code identifier via {via}"));
        }
        if let Some(via) = self.verification_via() {
            parts.push(format!("verification via {via}"));
        }
        if let Some(via) = self.recovery_via() {
            parts.push(format!("recovery via {via}"));
        }
        if parts.is_empty() {
            parts.push("no addresses or identifiers".to_owned());
        }
        parts.join("; ")
    }
}
