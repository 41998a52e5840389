//! An unknown subject: a new identity from the mapper's traits with an `oidc` credential,
//! addresses the provider vouches for already verified. The registration flow stores it and
//! runs its after-hooks.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::callback::Vouched;
use crate::flow::core::messages;
use crate::flow::core::ui::Ui;
use crate::flow::core::{FlowDeps, FlowError};
use crate::identity::{Identity, IdentityError, IdentityInput};
use crate::oidc::apply_verified_addresses;
use crate::schema::{Derived, Via};
use crate::text::Text;

/// A prepared identity, or the message the flow shows instead.
pub enum SignUp {
    Ready(Box<Identity>),
    Refused,
}

/// Validates the mapped traits against the default schema and prepares the identity; any
/// problem is put on `ui`. Linking to an existing account happens only from a signed-in
/// session: here it would give the account to whoever controls the provider's address.
pub async fn prepare_sign_up(
    deps: &FlowDeps,
    ui: &mut Ui,
    v: &Vouched,
    now: DateTime<Utc>,
) -> Result<SignUp, FlowError> {
    let schema = deps.default_schema()?;
    let traits = v.mapped.traits.clone();
    let derived = match schema.evaluate(&traits) {
        Ok(d) => d,
        Err(errors) => {
            crate::strategy::profile::show_trait_errors(ui, &errors);
            return Ok(SignUp::Refused);
        }
    };
    if let Some((taken, owner)) = taken_identifier(deps, &derived).await? {
        let message = taken_message(deps, &taken, owner, &v.mapped.verified_addresses).await?;
        ui.messages.push(message);
        return Ok(SignUp::Refused);
    }
    let input: IdentityInput = serde_json::from_value(json!({
        "schema_id": schema.id,
        "traits": traits,
        "metadata_public": v.mapped.metadata_public,
        "metadata_admin": v.mapped.metadata_admin,
        "credentials": {"oidc": {"config": {"providers": [
            {"provider": v.provider.id(), "subject": v.subject}
        ]}}},
    }))
    .map_err(FlowError::unexpected)?;
    let mut identity = match deps.identities.prepare(input, derived, now).await {
        Ok(i) => i,
        Err(e @ (IdentityError::Hash(_) | IdentityError::Store(_))) => return Err(e.into()),
        Err(other) => {
            ui.messages.push(crate::text::reason(other.to_string()));
            return Ok(SignUp::Refused);
        }
    };
    apply_verified_addresses(
        &mut identity.verifiable_addresses,
        &v.mapped.verified_addresses,
        now,
    );
    Ok(SignUp::Ready(Box::new(identity)))
}

/// The message for a sign-up whose identifier turned out to be taken (a concurrent sign-up
/// won the race): the takeover message when it names an address, else the duplicate one.
pub async fn conflict_message(deps: &FlowDeps, v: &Vouched) -> Result<Text, FlowError> {
    let Ok(derived) = deps.default_schema()?.evaluate(&v.mapped.traits) else {
        return Ok(messages::duplicate_identifier());
    };
    Ok(match taken_identifier(deps, &derived).await? {
        Some((taken, owner)) => {
            taken_message(deps, &taken, owner, &v.mapped.verified_addresses).await?
        }
        None => messages::duplicate_identifier(),
    })
}

/// The first login identifier or verifiable address of the new traits that another identity
/// already has, with that identity's id.
async fn taken_identifier(
    deps: &FlowDeps,
    derived: &Derived,
) -> Result<Option<(String, Uuid)>, FlowError> {
    for id in &derived.password_identifiers {
        if let Some(owner) = deps
            .store
            .find_identity_by_identifier("password", id)
            .await?
        {
            return Ok(Some((id.clone(), owner.id)));
        }
    }
    for (via, value) in derived.verifiable.iter().chain(&derived.code_identifiers) {
        if let Some(owner) = deps.store.find_address_owner(via.as_str(), value).await? {
            return Ok(Some((value.clone(), owner.identity_id)));
        }
    }
    Ok(None)
}

/// The takeover message names the address only when the provider vouched for it (anyone can
/// put any address into an account at some provider), with the ways the existing account
/// can really sign in; otherwise the generic duplicate message.
pub async fn taken_message(
    deps: &FlowDeps,
    taken: &str,
    owner: Uuid,
    verified: &[(Via, String)],
) -> Result<Text, FlowError> {
    if !verified.iter().any(|(_, v)| v == taken) {
        return Ok(messages::duplicate_identifier());
    }
    let mut message = messages::oidc_identifier_taken(taken);
    let Some(identity) = deps.store.get_identity(owner).await? else {
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
