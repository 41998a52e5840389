//! `GET|POST /self-service/methods/oidc/callback/{provider}`: the browser returns from the
//! provider. A known subject signs in, an unknown one signs up (Kratos switches flows).

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CONTEXT_KEY, Pending, fail, redirect_uri};
use crate::flow::env::{FormError, FormOutcome, clear_messages};
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::login::LoginService;
use crate::flow::messages;
use crate::flow::registration::RegistrationService;
use crate::flow::verification::SubmitContext;
use crate::identity::{Identity, IdentityState};
use crate::oidc::{OidcError, Provider, apply_verified_addresses};
use crate::session::DeviceInfo;

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

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No flow waits for this state: forged, tampered with, or already used.
    #[error(
        "The social sign-in request is unknown, was already used or was tampered with. Please start again."
    )]
    UnknownState,
    /// The provider's answer or the mapper's result is malformed (Kratos: 400).
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Form(#[from] FormError),
}

impl From<crate::persistence::StoreError> for CallbackError {
    fn from(e: crate::persistence::StoreError) -> Self {
        Self::Form(e.into())
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn callback(
    registration: &RegistrationService,
    login: &LoginService,
    cb: Callback,
    ctx: SubmitContext,
    device: DeviceInfo,
    current: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<FormOutcome, CallbackError> {
    let env = &registration.env;
    let state = cb.state.as_deref().unwrap_or_default();
    let flow_id = state
        .split_once('.')
        .and_then(|(id, _)| Uuid::parse_str(id).ok())
        .ok_or(CallbackError::UnknownState)?;
    let mut flow = find_flow(registration, flow_id)
        .await?
        .ok_or(CallbackError::UnknownState)?;
    let pending: Pending = flow
        .internal_context
        .get(CONTEXT_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or(CallbackError::UnknownState)?;
    if !crate::crypto::constant_time_eq(pending.state.as_bytes(), state.as_bytes())
        || pending.provider != cb.provider
    {
        return Err(CallbackError::UnknownState);
    }
    // Without the browser's own CSRF cookie, an attacker could send a victim to a callback
    // of a flow the attacker started and sign the victim in to the attacker's account.
    let cookie = ctx
        .csrf_cookie
        .as_deref()
        .ok_or(FormError::Csrf("the CSRF cookie is missing"))?;
    if !crate::csrf::verify(&flow.csrf_token, cookie) {
        return Err(FormError::Csrf("the CSRF token does not match").into());
    }
    // One use per authorization request, whatever happens next: of two concurrent callbacks
    // only the one whose write finds the flow unchanged goes on.
    if let Some(m) = flow.internal_context.as_object_mut() {
        m.remove(CONTEXT_KEY);
    }
    clear_messages(&mut flow.ui);
    if !env.store.update_form_flow_if_unchanged(&flow, now).await? {
        return Err(CallbackError::UnknownState);
    }
    if flow.is_expired(now) {
        return Ok(restart(registration, login, flow, now).await?);
    }
    let Ok(provider) = registration.oidc.get(&pending.provider).cloned() else {
        return Err(CallbackError::UnknownState);
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
        return Ok(fail(env, flow, &e, now).await?);
    }
    let Some(code) = cb.code.filter(|c| !c.is_empty()) else {
        let e = OidcError::Rejected {
            provider: provider.id().to_owned(),
            message: "the answer has no authorization code".into(),
        };
        return Ok(fail(env, flow, &e, now).await?);
    };
    let claims = match provider
        .exchange(
            &code,
            &pending.pkce_verifier,
            &pending.nonce,
            &redirect_uri(env, provider.id()),
        )
        .await
    {
        Ok(c) if !c.subject().is_empty() => c,
        Ok(_) => {
            let e = OidcError::InvalidIdToken {
                provider: provider.id().to_owned(),
                message: "it has no subject".into(),
            };
            return Ok(fail(env, flow, &e, now).await?);
        }
        Err(e) => return Ok(fail(env, flow, &e, now).await?),
    };
    let identifier = format!("{}:{}", provider.id(), claims.subject());
    let known = env
        .store
        .find_identity_by_identifier("oidc", &identifier)
        .await
        .map_err(FormError::from)?;
    let mapped = match provider.map(&claims).await {
        Ok(m) => m,
        Err(e) if e.is_bad_request() => return Err(CallbackError::BadRequest(e.to_string())),
        Err(e) => return Ok(fail(env, flow, &e, now).await?),
    };
    let args = Args {
        provider: &provider,
        subject: claims.subject(),
        mapped,
        ctx,
        device,
        current,
        now,
    };
    match known {
        Some(identity) => sign_in(registration, login, flow, identity, args).await,
        None => super::sign_up::sign_up(registration, login, flow, args).await,
    }
}

/// What signing in or up needs besides the flow.
pub(super) struct Args<'a> {
    pub provider: &'a Provider,
    pub subject: &'a str,
    pub mapped: crate::oidc::Mapped,
    pub ctx: SubmitContext,
    pub device: DeviceInfo,
    pub current: Option<Uuid>,
    pub now: DateTime<Utc>,
}

async fn find_flow(
    registration: &RegistrationService,
    id: Uuid,
) -> Result<Option<FormFlow>, FormError> {
    for kind in [FlowKind::Login, FlowKind::Registration] {
        if let Some(f) = registration.env.store.get_form_flow(kind, id).await? {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

/// The flow expired while the user was at the provider: a new one of the same kind.
async fn restart(
    registration: &RegistrationService,
    login: &LoginService,
    old: FormFlow,
    now: DateTime<Utc>,
) -> Result<FormOutcome, FormError> {
    let mut new = match old.kind {
        FlowKind::Registration => {
            let mut f = registration.fresh(
                old.flow_type,
                old.request_url.clone(),
                old.return_to.clone(),
                old.csrf_token.clone(),
                now,
            );
            f.ui.messages.push(messages::flow_expired(
                4040001,
                "registration",
                old.expires_at,
                now,
            ));
            f
        }
        _ => {
            let mut f = login_flow(login, &old, now);
            f.ui.messages.push(messages::flow_expired(
                4010001,
                "login",
                old.expires_at,
                now,
            ));
            f
        }
    };
    new.transient_payload = None;
    registration.env.store.insert_form_flow(&new).await?;
    Ok(FormOutcome::Expired {
        new,
        expired_at: old.expires_at,
    })
}

/// A fresh login flow for the same browser as `old` (not stored).
fn login_flow(login: &LoginService, old: &FormFlow, now: DateTime<Utc>) -> FormFlow {
    let mut f = login.env.new_flow(
        FlowKind::Login,
        old.flow_type,
        old.request_url.clone(),
        old.return_to.clone(),
        old.csrf_token.clone(),
        "choose_method",
        now,
    );
    crate::flow::login::fill_ui(&mut f.ui, None);
    super::add_provider_nodes(&mut f.ui, &login.env, &login.oidc, FlowKind::Login);
    f
}

/// A known subject: the login after-hooks and a session. A registration flow turns into a
/// login flow, as in Kratos. Addresses the provider now vouches for become verified.
pub(super) async fn sign_in(
    registration: &RegistrationService,
    login: &LoginService,
    flow: FormFlow,
    mut identity: Identity,
    args: Args<'_>,
) -> Result<FormOutcome, CallbackError> {
    let env = &registration.env;
    let now = args.now;
    let mut flow = if flow.kind == FlowKind::Login {
        flow
    } else {
        let f = login_flow(login, &flow, now);
        env.store.insert_form_flow(&f).await?;
        f
    };
    if flow
        .identity_id
        .is_some_and(|expected| expected != identity.id)
    {
        flow.ui.messages.push(messages::invalid_credentials());
        return Ok(super::show(env, flow, now).await?);
    }
    if identity.state != IdentityState::Active {
        flow.ui.messages.push(messages::account_disabled());
        return Ok(super::show(env, flow, now).await?);
    }
    let verified = &args.mapped.verified_addresses;
    if apply_verified_addresses(&mut identity.verifiable_addresses, verified, now) > 0 {
        env.store
            .update_identity(&identity)
            .await
            .map_err(FormError::from)?;
    }
    let provider = Some(args.provider.id().to_owned());
    Ok(login
        .finish(
            flow,
            identity,
            "oidc",
            provider,
            &args.ctx,
            args.device,
            args.current,
            now,
        )
        .await?)
}
