//! An unknown subject: a new identity from the mapper's traits with an `oidc` credential,
//! addresses the provider vouches for already verified, then the registration after-hooks.

use serde_json::json;

use super::callback::{Args, CallbackError};
use crate::flow::env::{FlowEnv, FormError, FormOutcome};
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::messages::{self, trait_error, trait_error_node};
use crate::flow::registration::RegistrationService;
use crate::identity::{IdentityError, IdentityInput};
use crate::oidc::apply_verified_addresses;
use crate::persistence::StoreError;
use crate::schema::Derived;
use crate::session::Issued;

pub(super) async fn sign_up(
    registration: &RegistrationService,
    flow: FormFlow,
    args: Args<'_>,
) -> Result<FormOutcome, CallbackError> {
    let env = &registration.env;
    let now = args.now;
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
    if let Some(taken) = taken_identifier(env, &derived).await? {
        flow.ui
            .messages
            .push(messages::oidc_identifier_taken(&taken));
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
    let mut identity = match registration.identities.prepare(input, now).await {
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
        // Someone took the address between the check and the insert.
        Err(StoreError::Conflict(_)) => {
            let shown = derived
                .password_identifiers
                .first()
                .cloned()
                .or_else(|| derived.verifiable.first().map(|(_, v)| v.clone()))
                .unwrap_or_default();
            flow.ui
                .messages
                .push(messages::oidc_identifier_taken(&shown));
            Ok(super::show(env, flow, now).await?)
        }
        Err(e) => Err(FormError::from(e).into()),
    }
}

/// The first login identifier or verifiable address of the new traits that another identity
/// already has.
async fn taken_identifier(env: &FlowEnv, derived: &Derived) -> Result<Option<String>, FormError> {
    for id in &derived.password_identifiers {
        if env
            .store
            .find_identity_by_identifier("password", id)
            .await?
            .is_some()
        {
            return Ok(Some(id.clone()));
        }
    }
    for (via, value) in derived.verifiable.iter().chain(&derived.code_identifiers) {
        if env.store.find_address_owner(*via, value).await?.is_some() {
            return Ok(Some(value.clone()));
        }
    }
    Ok(None)
}
