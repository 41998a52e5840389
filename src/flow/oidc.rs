//! The return from a social sign-in provider, across login and registration: a known
//! subject signs in, an unknown one signs up, and either flow turns into the other as needed
//! (Kratos switches flows the same way).

use chrono::{DateTime, Utc};

use crate::flow::core::messages;
use crate::flow::core::{
    Flow, FlowError, FlowKind, FlowService, Method, Outcome, Replacement, Request, show_error,
};
use crate::flow::login::LoginService;
use crate::flow::registration::{RegistrationService, SocialSignUp};
use crate::identity::{Identity, IdentityState};
use crate::oidc::apply_verified_addresses;
use crate::strategy::oidc::{Callback, Claimed, Vouched, claim};

pub async fn callback(
    login: &LoginService,
    registration: &RegistrationService,
    cb: Callback,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    match claim(login.deps(), cb, req, now).await? {
        Claimed::Expired(old) => restart(login, registration, &old, now).await,
        Claimed::Shown(outcome) => Ok(outcome),
        Claimed::Vouched(v) => match v.known.clone() {
            Some(identity) => sign_in(login, *v, identity, req, now).await,
            None => match registration.sign_up_with(*v, req, now).await? {
                SocialSignUp::Done(outcome) => Ok(outcome),
                SocialSignUp::Exists(v, identity) => sign_in(login, *v, identity, req, now).await,
            },
        },
    }
}

/// The flow expired while the user was at the provider: a new one of the same kind.
async fn restart(
    login: &LoginService,
    registration: &RegistrationService,
    old: &Flow,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    let mut new = match old.kind {
        FlowKind::Registration => registration.continuation(old, now),
        _ => login.continuation(old, now),
    };
    new.ui.messages.push(messages::flow_expired(
        old.kind.expired_message_id(),
        old.kind.as_str(),
        old.expires_at,
        now,
    ));
    login.deps().flows.insert(&new).await?;
    let why = Replacement::FlowExpired {
        expired_at: old.expires_at,
    };
    Ok(Outcome::Replaced { new, why })
}

/// A known subject: the login after-hooks and a session. A registration flow turns into a
/// login flow. Addresses the provider now vouches for become verified.
async fn sign_in(
    login: &LoginService,
    v: Vouched,
    mut identity: Identity,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    let deps = login.deps();
    let mut flow = if v.flow.kind == FlowKind::Login {
        v.flow
    } else {
        let f = login.continuation(&v.flow, now);
        deps.flows.insert(&f).await?;
        f
    };
    if flow
        .identity_id
        .is_some_and(|expected| expected != identity.id)
    {
        flow.ui.messages.push(messages::invalid_credentials());
        return show_error(deps, flow, now).await;
    }
    if identity.state != IdentityState::Active {
        flow.ui.messages.push(messages::account_disabled());
        return show_error(deps, flow, now).await;
    }
    let verified = &v.mapped.verified_addresses;
    if apply_verified_addresses(&mut identity.verifiable_addresses, verified, now) > 0 {
        deps.store.update_identity(&identity).await?;
    }
    let provider = Some(v.provider.id().to_owned());
    login
        .finish(flow, identity, Method::Oidc, provider, req, now)
        .await
}
