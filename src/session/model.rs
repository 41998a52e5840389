//! The session as stored and as `/sessions/whoami` shows it (Kratos's JSON names).

use std::fmt;

use chrono::{DateTime, Utc};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::identity::Identity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthMethod {
    pub method: String,
    pub aal: String,
    pub completed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub location: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub active: bool,
    pub aal: String,
    pub authentication_methods: Vec<AuthMethod>,
    pub devices: Vec<Device>,
    pub authenticated_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.active && now < self.expires_at
    }

    /// `session` JSON with the identity embedded (or left out, as in the admin listing).
    pub fn to_json(&self, identity: Option<&Identity>) -> Value {
        let mut v = json!({
            "id": self.id,
            "active": self.active,
            "expires_at": self.expires_at,
            "authenticated_at": self.authenticated_at,
            "authenticator_assurance_level": self.aal,
            "authentication_methods": self.authentication_methods,
            "issued_at": self.issued_at,
            "devices": self.devices,
        });
        if let Some(i) = identity {
            v["identity"] = serde_json::to_value(i).unwrap_or(Value::Null);
        }
        v
    }
}

/// A bearer secret (`ory_st_...` session token or `ory_lo_...` logout token). Only its SHA-256
/// digest is stored; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// 43 characters of a 62-letter alphabet: 256 bits.
const TOKEN_CHARS: usize = 43;

impl Token {
    pub fn generate(prefix: &str) -> Self {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
        let body: String = (0..TOKEN_CHARS)
            .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
            .collect();
        Self(format!("{prefix}{body}"))
    }

    pub fn from_presented(s: &str) -> Self {
        Self(s.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

pub fn digest(secret: &str) -> String {
    crate::crypto::hex(&Sha256::digest(secret.as_bytes()))
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

pub const SESSION_TOKEN_PREFIX: &str = "ory_st_";
pub const LOGOUT_TOKEN_PREFIX: &str = "ory_lo_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hidden() {
        let a = Token::generate(SESSION_TOKEN_PREFIX);
        let b = Token::generate(SESSION_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("ory_st_"));
        assert_eq!(a.expose().len(), 7 + TOKEN_CHARS);
        assert!(!format!("{a:?}").contains(&a.expose()[7..]));
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), b.digest());
    }
}
