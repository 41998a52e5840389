//! An unknown subject: a new identity from the mapper's traits with an `oidc` credential,
//! addresses the provider vouches for already verified, then the registration after-hooks.

use serde_json::{Value, json};
use uuid::Uuid;

use super::callback::{Args, CallbackError};
use crate::flow::env::{FlowEnv, FormError, FormOutcome};
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::login::LoginService;
use crate::flow::messages::{self, trait_error, trait_error_node};
use crate::flow::registration::RegistrationService;
use crate::identity::{IdentityError, IdentityInput};
use crate::oidc::apply_verified_addresses;
use crate::persistence::StoreError;
use crate::schema::{Derived, Via};
use crate::session::Issued;
use crate::text::Text;

pub(super) async fn sign_up(
    registration: &RegistrationService,
    login: &LoginService,
    flow: FormFlow,
    args: Args<'_>,
) -> Result<FormOutcome, CallbackError> {
    let env = &registration.env;
    let now = args.now;
    // A refresh only re-authenticates the signed-in identity; it never creates one.
    if flow.identity_id.is_some() {
        let mut flow = flow;
        flow.ui.messages.push(messages::invalid_credentials());
        return Ok(super::show(env, flow, now).await?);
    }
    let mut flow = if flow.kind == FlowKind::Registration {
        flow
    } else {
        let f = registration.fresh(
            flow.flow_type,
            flow.request_url.clone(),
            flow.return_to.clone(),
            flow.csrf_token.clone(),
            now,
        );
        env.store.insert_form_flow(&f).await?;
        f
    };
    let schema = registration
        .identities
        .schemas()
        .default_schema()
        .cloned()
        .ok_or(FormError::Disabled("No identity schema is configured."))?;
    let traits = args.mapped.traits.clone();
    registration.fill_ui(&mut flow.ui, &traits);
    let derived = match schema.evaluate(&traits) {
        Ok(d) => d,
        Err(errors) => {
            for e in &errors {
                flow.ui
                    .add_message(Some(&trait_error_node(e)), trait_error(e));
            }
            return Ok(super::show(env, flow, now).await?);
        }
    };
    // Linking to an existing account happens only from a signed-in session; here it would
    // give the account to whoever controls the provider's address.
    if let Some((taken, owner)) = taken_identifier(env, &derived).await? {
        let message = taken_message(env, &taken, owner, &args.mapped.verified_addresses).await?;
        flow.ui.messages.push(message);
        return Ok(super::show(env, flow, now).await?);
    }
    let input: IdentityInput = serde_json::from_value(json!({
        "schema_id": schema.id,
        "traits": traits,
        "metadata_public": args.mapped.metadata_public,
        "metadata_admin": args.mapped.metadata_admin,
        "credentials": {"oidc": {"config": {"providers": [
            {"provider": args.provider.id(), "subject": args.subject}
        ]}}},
    }))
    .map_err(|e| FormError::Store(StoreError::Corrupt(e.to_string())))?;
    let mut identity = match registration
        .identities
        .prepare(input, derived.clone(), now)
        .await
    {
        Ok(i) => i,
        Err(IdentityError::Hash(h)) => return Err(FormError::from(h).into()),
        Err(IdentityError::Store(s)) => return Err(FormError::from(s).into()),
        Err(other) => {
            flow.ui
                .messages
                .push(crate::text::reason(other.to_string()));
            return Ok(super::show(env, flow, now).await?);
        }
    };
    apply_verified_addresses(
        &mut identity.verifiable_addresses,
        &args.mapped.verified_addresses,
        now,
    );
    let session = registration.signs_in("oidc").then(|| {
        registration.sessions.issue(
            identity.id,
            "oidc",
            Some(args.provider.id().to_owned()),
            args.device.clone(),
            now,
        )
    });
    match env
        .store
        .register_identity(&identity, session.as_ref().map(Issued::rows))
        .await
    {
        Ok(()) => Ok(registration
            .after_registration(flow, identity, session, false, &args.ctx, "oidc", now)
            .await?),
        // Someone took the address between the check and the insert: a concurrent sign-up
        // of the same subject signs in, anything else is refused.
        Err(StoreError::Conflict(_)) => {
            let identifier = format!("{}:{}", args.provider.id(), args.subject);
            if let Some(same) = env
                .store
                .find_identity_by_identifier("oidc", &identifier)
                .await
                .map_err(FormError::from)?
            {
                return super::callback::sign_in(registration, login, flow, same, args).await;
            }
            let message = match taken_identifier(env, &derived).await? {
                Some((taken, owner)) => {
                    taken_message(env, &taken, owner, &args.mapped.verified_addresses).await?
                }
                None => messages::duplicate_identifier(),
            };
            flow.ui.messages.push(message);
            Ok(super::show(env, flow, now).await?)
        }
        Err(e) => Err(FormError::from(e).into()),
    }
}

/// The first login identifier or verifiable address of the new traits that another identity
/// already has, with that identity's id.
async fn taken_identifier(
    env: &FlowEnv,
    derived: &Derived,
) -> Result<Option<(String, Uuid)>, FormError> {
    for id in &derived.password_identifiers {
        if let Some(owner) = env
            .store
            .find_identity_by_identifier("password", id)
            .await?
        {
            return Ok(Some((id.clone(), owner.id)));
        }
    }
    for (via, value) in derived.verifiable.iter().chain(&derived.code_identifiers) {
        if let Some(owner) = env.store.find_address_owner(*via, value).await? {
            return Ok(Some((value.clone(), owner.identity_id)));
        }
    }
    Ok(None)
}

/// The takeover message names the address only when the provider vouched for it (anyone can
/// put any address into an account at some provider), with the ways the existing account
/// can really sign in; otherwise the generic duplicate message.
async fn taken_message(
    env: &FlowEnv,
    taken: &str,
    owner: Uuid,
    verified: &[(Via, String)],
) -> Result<Text, FormError> {
    if !verified.iter().any(|(_, v)| v == taken) {
        return Ok(messages::duplicate_identifier());
    }
    let mut message = messages::oidc_identifier_taken(taken);
    let Some(identity) = env.store.get_identity(owner).await? else {
        return Ok(messages::duplicate_identifier());
    };
    let mut kinds: Vec<&str> = identity
        .credentials
        .iter()
        .map(|c| c.kind.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let providers: Vec<Value> = identity
        .credential("oidc")
        .and_then(|c| c.config["providers"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.get("provider").cloned())
        .collect();
    if let Some(Value::Object(context)) = message.context.as_mut() {
        context.insert("available_credential_types".into(), json!(kinds));
        context.insert("available_oidc_providers".into(), json!(providers));
    }
    Ok(message)
}
