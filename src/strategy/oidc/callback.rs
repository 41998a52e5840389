//! `GET|POST /self-service/methods/oidc/callback/{provider}`: the browser returns from the
//! provider. This checks the answer; the flows then sign a known subject in and an unknown one
//! up (Kratos switches flows).

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CONTEXT_KEY, Pending, fail, redirect_uri};
use crate::flow::core::{Flow, FlowDeps, FlowError, FlowKind, Outcome, Request};
use crate::identity::Identity;
use crate::oidc::{OidcError, Provider};

/// Longest provider `error_description` shown to the user.
const MAX_DESCRIPTION: usize = 200;

/// The callback's parameters. `Debug` hides the code and the state.
#[derive(Default)]
pub struct Callback {
    pub provider: String,
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("provider", &self.provider)
            .field("has_code", &self.code.is_some())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// What the callback established.
#[derive(Debug)]
pub enum Claimed {
    /// The flow expired while the user was at the provider: the flow kind starts a new one.
    Expired(Flow),
    /// The provider or the mapper failed: the flow shows a fixed text (400).
    Shown(Outcome),
    /// The provider vouched for a subject.
    Vouched(Box<Vouched>),
}

/// A subject the provider vouched for, with what the mapper made of its claims.
pub struct Vouched {
    pub flow: Flow,
    pub provider: std::sync::Arc<Provider>,
    pub subject: String,
    pub mapped: crate::oidc::Mapped,
    /// The identity already signed up with this subject, if any.
    pub known: Option<Identity>,
}

impl std::fmt::Debug for Vouched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vouched")
            .field("flow", &self.flow.id)
            .field("provider", &self.provider.id())
            .field("known", &self.known.as_ref().map(|i| i.id))
            .finish_non_exhaustive()
    }
}

fn unknown_state() -> FlowError {
    FlowError::BadRequest(
        "The social sign-in request is unknown, was already used or was tampered with. Please start again.".into(),
    )
}

/// Checks the provider's answer against the flow that started it (state, CSRF cookie, one
/// use), exchanges the code and maps the claims.
pub async fn claim(
    deps: &FlowDeps,
    cb: Callback,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Claimed, FlowError> {
    let state = cb.state.as_deref().unwrap_or_default();
    let flow_id = state
        .split_once('.')
        .and_then(|(id, _)| Uuid::parse_str(id).ok())
        .ok_or_else(unknown_state)?;
    let mut flow = deps
        .flows
        .get_of(&[FlowKind::Login, FlowKind::Registration], flow_id)
        .await?
        .ok_or_else(unknown_state)?;
    let pending: Pending = flow
        .internal_context
        .get(CONTEXT_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(unknown_state)?;
    if !crate::crypto::constant_time_eq(pending.state.as_bytes(), state.as_bytes())
        || pending.provider != cb.provider
    {
        return Err(unknown_state());
    }
    // Without the browser's own CSRF cookie, an attacker could send a victim to a callback
    // of a flow the attacker started and sign the victim in to the attacker's account.
    let cookie = req
        .csrf_cookie
        .as_deref()
        .ok_or(FlowError::Csrf("the CSRF cookie is missing"))?;
    if !crate::csrf::verify(&flow.csrf_token, cookie) {
        return Err(FlowError::Csrf("the CSRF token does not match"));
    }
    // One use per authorization request, whatever happens next: of two concurrent callbacks
    // only the one whose write finds the flow unchanged goes on.
    if let Some(m) = flow.internal_context.as_object_mut() {
        m.remove(CONTEXT_KEY);
    }
    flow.ui.clear_messages();
    if !deps.flows.update_if_unchanged(&flow, now).await? {
        return Err(unknown_state());
    }
    if flow.is_expired(now) {
        return Ok(Claimed::Expired(flow));
    }
    let Ok(provider) = deps.oidc.get(&pending.provider).cloned() else {
        return Err(unknown_state());
    };
    if let Some(error) = cb.error.filter(|e| !e.is_empty()) {
        let mut message = error;
        if let Some(d) = cb.error_description.filter(|d| !d.is_empty()) {
            message = format!(
                "{message} ({})",
                d.chars().take(MAX_DESCRIPTION).collect::<String>()
            );
        }
        let e = OidcError::Rejected {
            provider: provider.id().to_owned(),
            message,
        };
        return Ok(Claimed::Shown(fail(deps, flow, &e, now).await?));
    }
    let Some(code) = cb.code.filter(|c| !c.is_empty()) else {
        let e = OidcError::Rejected {
            provider: provider.id().to_owned(),
            message: "the answer has no authorization code".into(),
        };
        return Ok(Claimed::Shown(fail(deps, flow, &e, now).await?));
    };
    let claims = match provider
        .exchange(
            &code,
            &pending.pkce_verifier,
            &pending.nonce,
            &redirect_uri(deps, provider.id()),
        )
        .await
    {
        Ok(c) if !c.subject().is_empty() => c,
        Ok(_) => {
            let e = OidcError::InvalidIdToken {
                provider: provider.id().to_owned(),
                message: "it has no subject".into(),
            };
            return Ok(Claimed::Shown(fail(deps, flow, &e, now).await?));
        }
        Err(e) => return Ok(Claimed::Shown(fail(deps, flow, &e, now).await?)),
    };
    let identifier = format!("{}:{}", provider.id(), claims.subject());
    let known = deps
        .store
        .find_identity_by_identifier("oidc", &identifier)
        .await?;
    let mapped = match provider.map(&claims).await {
        Ok(m) => m,
        Err(e) if e.is_bad_request() => {
            tracing::warn!(provider = provider.id(), error = %e, "social sign-in mapper output refused");
            return Err(FlowError::BadRequest(
                "The account data from the sign-in provider could not be used.".into(),
            ));
        }
        Err(e) => return Ok(Claimed::Shown(fail(deps, flow, &e, now).await?)),
    };
    Ok(Claimed::Vouched(Box::new(Vouched {
        flow,
        subject: claims.subject().to_owned(),
        provider,
        mapped,
        known,
    })))
}
