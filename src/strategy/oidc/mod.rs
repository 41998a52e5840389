//! Social sign-in inside the login and registration flows: the provider buttons, the
//! redirect to the provider (`start`) and the checks of the return from it (`callback`);
//! signing in or up with what the provider vouches for is the flows' part.
//!
//! What the callback needs (provider, state, nonce, PKCE verifier) stays in the flow's
//! `internal_context`, which never leaves the server. The state is `<flow id>.<random>`, so
//! the callback finds the flow without another table and then compares the whole state.

mod callback;
mod sign_up;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::flow::core::messages;
use crate::flow::core::ui::{Input, Ui};
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowType, Outcome, show_error, take_string,
};
use crate::oidc::OidcError;

pub use callback::{Callback, Claimed, Vouched, claim};
pub use sign_up::{SignUp, conflict_message, prepare_sign_up};

/// The fields of a social sign-in submission: the provider button pressed.
#[derive(Debug, Default)]
pub struct OidcFields {
    pub provider: Option<String>,
}

impl OidcFields {
    pub fn take(fields: &mut Map<String, Value>) -> Self {
        Self {
            provider: take_string(fields, "provider"),
        }
    }

    /// `method=oidc`, or a `provider` button pressed without a method (as Kratos's UIs send it).
    pub fn requested(method: Option<&str>, fields: &Map<String, Value>) -> bool {
        match method {
            Some("oidc") => true,
            None | Some("") => fields.get("provider").is_some_and(|p| !p.is_null()),
            _ => false,
        }
    }
}

/// The key of the pending sign-in in `Flow::internal_context`.
const CONTEXT_KEY: &str = "oidc";

/// What the callback needs from the start. Secrets: never logged, never sent to a client.
#[derive(Clone, Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
}

/// The method is on and at least one provider is configured.
pub fn enabled(deps: &FlowDeps) -> bool {
    deps.settings.selfservice.methods.oidc.enabled && !deps.oidc.is_empty()
}

/// One submit button per provider (group `oidc`), after the other method nodes.
pub fn add_provider_nodes(ui: &mut Ui, deps: &FlowDeps, kind: FlowKind) {
    if !enabled(deps) {
        return;
    }
    for p in deps.oidc.iter() {
        let label = p
            .config()
            .label
            .clone()
            .unwrap_or_else(|| p.id().to_owned());
        ui.nodes.push(
            Input {
                name: "provider",
                kind: "submit",
                group: "oidc",
                value: Some(json!(p.id())),
                required: false,
                autocomplete: None,
                label: Some(messages::label_oidc(
                    kind == FlowKind::Registration,
                    &label,
                    p.id(),
                )),
            }
            .node(),
        );
    }
}

/// The redirect URI registered at the provider for `provider`.
/// `base_redirect_uri` replaces the public URL when the provider must call back elsewhere.
pub fn redirect_uri(deps: &FlowDeps, provider: &str) -> String {
    let configured = deps
        .settings
        .selfservice
        .methods
        .oidc
        .config
        .base_redirect_uri
        .as_deref();
    let base = configured
        .unwrap_or(deps.public.as_str())
        .trim_end_matches('/');
    format!("{base}/self-service/methods/oidc/callback/{provider}")
}

/// Sends the browser to the provider: the authorization request is remembered on the flow
/// and the answer is `FlowError::BrowserLocationChange` (303, or 422 for SPAs). Api flows
/// cannot follow a redirect through a browser, so they get a form error.
pub async fn start(
    deps: &FlowDeps,
    mut flow: Flow,
    fields: OidcFields,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    flow.ui.clear_messages();
    if flow.flow_type == FlowType::Api {
        flow.ui.messages.push(crate::text::reason(
            "Social sign-in is only available in browser flows.",
        ));
        return show_error(deps, flow, now).await;
    }
    let provider = match fields.provider.as_deref().filter(|p| !p.is_empty()) {
        None => {
            flow.ui
                .add_message(Some("provider"), crate::text::missing_property("provider"));
            return show_error(deps, flow, now).await;
        }
        Some(id) => match deps.oidc.get(id) {
            Ok(p) => p.clone(),
            Err(e) => return fail(deps, flow, &e, now).await,
        },
    };
    let flow_id = flow.id.to_string();
    let auth = match provider
        .authorization_request_for(&redirect_uri(deps, provider.id()), Some(&flow_id))
        .await
    {
        Ok(a) => a,
        Err(e) => return fail(deps, flow, &e, now).await,
    };
    let pending = Pending {
        provider: provider.id().to_owned(),
        state: auth.state.clone(),
        nonce: auth.nonce.clone(),
        pkce_verifier: auth.pkce_verifier.clone(),
    };
    flow.internal_context[CONTEXT_KEY] =
        serde_json::to_value(&pending).map_err(FlowError::unexpected)?;
    deps.flows.update(&flow, now).await?;
    Err(FlowError::BrowserLocationChange(auth.url))
}

/// Logs a provider, token or mapper failure (operators need the detail) and shows the user
/// a 4000001 message with one fixed text per kind: the detail may name internal hosts or
/// carry the provider's own words.
pub async fn fail(
    deps: &FlowDeps,
    mut flow: Flow,
    e: &OidcError,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    let provider = match e {
        OidcError::Config { provider, .. }
        | OidcError::Unavailable { provider, .. }
        | OidcError::Rejected { provider, .. }
        | OidcError::InvalidIdToken { provider, .. }
        | OidcError::Mapper { provider, .. } => provider.as_str(),
        OidcError::UnknownProvider(_) => "",
    };
    tracing::warn!(provider, error = %e, "social sign-in failed");
    flow.ui.messages.push(crate::text::reason(user_text(e)));
    show_error(deps, flow, now).await
}

/// What a user is told about `e`.
fn user_text(e: &OidcError) -> &'static str {
    match e {
        OidcError::Config { .. } | OidcError::UnknownProvider(_) => {
            "This sign-in provider is not available."
        }
        OidcError::Unavailable { .. } => {
            "The sign-in provider is unavailable. Please try again later."
        }
        OidcError::Rejected { .. } => "The sign-in provider refused the sign-in. Please try again.",
        OidcError::InvalidIdToken { .. } => {
            "The answer of the sign-in provider could not be verified. Please try again."
        }
        OidcError::Mapper { .. } => "The account data from the sign-in provider could not be used.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(provider: Option<&str>) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(p) = provider {
            m.insert("provider".into(), json!(p));
        }
        m
    }

    #[test]
    fn a_provider_button_alone_selects_the_method() {
        assert!(OidcFields::requested(Some("oidc"), &fields(Some("acme"))));
        assert!(OidcFields::requested(None, &fields(Some("acme"))));
        assert!(OidcFields::requested(Some("oidc"), &fields(None)));
        assert!(!OidcFields::requested(
            Some("password"),
            &fields(Some("acme"))
        ));
        assert!(!OidcFields::requested(None, &fields(None)));
    }

    #[test]
    fn pending_secrets_round_trip_through_json() {
        let p = Pending {
            provider: "acme".into(),
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
        };
        let back: Pending = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back.pkce_verifier, "v");
    }
}
