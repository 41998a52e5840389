//! Self-service flows: persisted resources with a state machine, and the parts they share.

pub mod after;
pub mod env;
pub mod form;
pub mod login;
pub mod messages;
pub mod oidc;
pub mod registration;
pub mod return_to;
pub mod settings;
pub mod traits;
pub mod ui;
pub mod verification;

use serde::{Deserialize, Serialize};

/// `api` flows serve native apps (no cookies, no CSRF); `browser` flows serve browsers and SPAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowType {
    Api,
    Browser,
}

impl FlowType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Browser => "browser",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(Self::Api),
            "browser" => Some(Self::Browser),
            _ => None,
        }
    }
}
