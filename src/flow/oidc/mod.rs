//! Social sign-in inside the login and registration flows: the provider buttons, the
//! redirect to the provider (`start`) and the return from it (`callback`).
//!
//! What the callback needs (provider, state, nonce, PKCE verifier) stays in the flow's
//! `internal_context`, which never leaves the server. The state is `<flow id>.<random>`, so
//! the callback finds the flow without another table and then compares the whole state.

mod callback;
mod sign_up;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::FlowType;
use super::env::{FlowEnv, FormError, FormOutcome, clear_messages};
use super::form::{FlowKind, FormFlow};
use super::messages;
use super::registration::FormSubmission;
use super::ui::{Input, Ui};
use crate::oidc::{OidcError, Providers};

pub use callback::{Callback, CallbackError, callback};

/// The key of the pending sign-in in `FormFlow::internal_context`.
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
pub fn enabled(env: &FlowEnv, providers: &Providers) -> bool {
    env.settings.selfservice.methods.oidc.enabled && !providers.is_empty()
}

/// `method=oidc`, or a `provider` button pressed without a method (as Kratos's UIs send it).
pub fn requested(sub: &FormSubmission) -> bool {
    match sub.method.as_deref() {
        Some("oidc") => true,
        None | Some("") => sub.provider.is_some(),
        _ => false,
    }
}

/// One submit button per provider (group `oidc`), after the other method nodes.
pub fn add_provider_nodes(ui: &mut Ui, env: &FlowEnv, providers: &Providers, kind: FlowKind) {
    if !enabled(env, providers) {
        return;
    }
    for p in providers.iter() {
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
pub fn redirect_uri(env: &FlowEnv, provider: &str) -> String {
    let configured = env
        .settings
        .selfservice
        .methods
        .oidc
        .config
        .base_redirect_uri
        .as_deref();
    let base = configured
        .unwrap_or(env.public.as_str())
        .trim_end_matches('/');
    format!("{base}/self-service/methods/oidc/callback/{provider}")
}

/// Sends the browser to the provider: the authorization request is remembered on the flow
/// and the answer is `FormError::BrowserLocationChange` (303, or 422 for SPAs). Api flows
/// cannot follow a redirect through a browser, so they get a form error.
pub(in crate::flow) async fn start(
    env: &FlowEnv,
    providers: &Providers,
    mut flow: FormFlow,
    provider_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<FormOutcome, FormError> {
    clear_messages(&mut flow.ui);
    if flow.flow_type == FlowType::Api {
        flow.ui.messages.push(crate::text::reason(
            "Social sign-in is only available in browser flows.",
        ));
        return show(env, flow, now).await;
    }
    let provider = match provider_id.filter(|p| !p.is_empty()) {
        None => {
            flow.ui
                .add_message(Some("provider"), crate::text::missing_property("provider"));
            return show(env, flow, now).await;
        }
        Some(id) => match providers.get(id) {
            Ok(p) => p.clone(),
            Err(e) => return fail(env, flow, &e, now).await,
        },
    };
    let flow_id = flow.id.to_string();
    let auth = match provider
        .authorization_request_for(&redirect_uri(env, provider.id()), Some(&flow_id))
        .await
    {
        Ok(a) => a,
        Err(e) => return fail(env, flow, &e, now).await,
    };
    let pending = Pending {
        provider: provider.id().to_owned(),
        state: auth.state.clone(),
        nonce: auth.nonce.clone(),
        pkce_verifier: auth.pkce_verifier.clone(),
    };
    flow.internal_context[CONTEXT_KEY] = serde_json::to_value(&pending)
        .map_err(|e| FormError::Store(crate::persistence::StoreError::Corrupt(e.to_string())))?;
    env.store.update_form_flow(&flow, now).await?;
    Err(FormError::BrowserLocationChange(auth.url))
}

/// Stores the flow with its messages and shows it (400).
async fn show(env: &FlowEnv, flow: FormFlow, now: DateTime<Utc>) -> Result<FormOutcome, FormError> {
    env.store.update_form_flow(&flow, now).await?;
    Ok(FormOutcome::Show { flow, status: 400 })
}

/// Logs a provider, token or mapper failure (operators need the detail) and shows the user
/// a 4000001 message with one fixed text per kind: the detail may name internal hosts or
/// carry the provider's own words.
async fn fail(
    env: &FlowEnv,
    mut flow: FormFlow,
    e: &OidcError,
    now: DateTime<Utc>,
) -> Result<FormOutcome, FormError> {
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
    show(env, flow, now).await
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

    fn sub(method: Option<&str>, provider: Option<&str>) -> FormSubmission {
        FormSubmission {
            method: method.map(str::to_owned),
            provider: provider.map(str::to_owned),
            ..FormSubmission::default()
        }
    }

    #[test]
    fn a_provider_button_alone_selects_the_method() {
        assert!(requested(&sub(Some("oidc"), Some("acme"))));
        assert!(requested(&sub(None, Some("acme"))));
        assert!(requested(&sub(Some("oidc"), None)));
        assert!(!requested(&sub(Some("password"), Some("acme"))));
        assert!(!requested(&sub(None, None)));
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
