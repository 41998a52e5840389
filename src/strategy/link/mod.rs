//! The link strategy: a message carries a URL with a one-time token (minted and checked by
//! the code strategy's primitives, as `Method::Link`); opening it answers the challenge.

use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use crate::flow::core::{FlowKind, Secret, take_string};

/// The fields of a link submission: an address to send a link to, or the token of one.
#[derive(Debug, Default)]
pub struct LinkFields {
    pub email: Option<String>,
    pub token: Option<Secret>,
}

impl LinkFields {
    pub fn take(fields: &mut Map<String, Value>) -> Self {
        Self {
            email: take_string(fields, "email"),
            token: Secret::take(fields, "token").filter(|t| !t.expose().is_empty()),
        }
    }

    /// Whether the fields carry a token (a link was opened), whatever the method says.
    pub fn has_token(fields: &Map<String, Value>) -> bool {
        fields
            .get("token")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
    }
}

/// The URL a link message carries: `/self-service/<kind>?flow=<id>&token=<token>`.
pub fn url(public: &Url, kind: FlowKind, flow: Uuid, token: &str) -> String {
    format!(
        "{public}self-service/{}?flow={flow}&token={token}",
        kind.as_str()
    )
}
