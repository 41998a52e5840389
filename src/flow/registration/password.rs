//! Signing up with a password: traits validated, the password policy checked, the send
//! limits admitted before any hashing, the identity stored, then the after-hooks.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::RegistrationService;
use super::after::Registered;
use crate::delivery::{Admission, Recipient as To};
use crate::flow::core::messages;
use crate::flow::core::{Flow, FlowError, Method, Outcome, Request, show_error};
use crate::flow::verification::Admit;
use crate::identity::{IdentityError, IdentityInput};
use crate::persistence::StoreError;
use crate::session::Issued;
use crate::strategy::password::PasswordFields;
use crate::strategy::profile::{show_trait_errors, traits_from_fields};

impl RegistrationService {
    pub(super) async fn password(
        &self,
        mut flow: Flow,
        fields: PasswordFields,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let schema = self.deps.default_schema()?;
        let traits = traits_from_fields(&schema.raw, &fields.rest);
        flow.ui.clear_messages();
        self.fill_ui(&mut flow, &traits);
        let derived = match schema.evaluate(&traits) {
            Ok(d) => Some(d),
            Err(errors) => {
                show_trait_errors(&mut flow.ui, &errors);
                None
            }
        };
        let Some(password) = fields.normalized_password() else {
            flow.ui
                .add_message(Some("password"), crate::text::missing_property("password"));
            return show_error(&self.deps, flow, now).await;
        };
        let Some(derived) = derived else {
            return show_error(&self.deps, flow, now).await;
        };
        if derived.password_identifiers.is_empty() {
            flow.ui.messages.push(messages::no_identifiers());
            return show_error(&self.deps, flow, now).await;
        }
        if let Err(violation) = self.policy.check(&password, &derived.password_identifiers) {
            flow.ui.add_message(Some("password"), violation.text());
            return show_error(&self.deps, flow, now).await;
        }
        let admit = self.admit_send(&derived, req, now).await?;
        let input: IdentityInput = serde_json::from_value(json!({
            "schema_id": schema.id,
            "traits": traits,
            "credentials": {"password": {"config": {"password": password}}},
        }))
        .map_err(FlowError::unexpected)?;
        let identity = match self.deps.identities.prepare(input, derived, now).await {
            Ok(i) => i,
            Err(e @ (IdentityError::Hash(_) | IdentityError::Store(_))) => return Err(e.into()),
            Err(other) => {
                flow.ui
                    .messages
                    .push(crate::text::reason(other.to_string()));
                return show_error(&self.deps, flow, now).await;
            }
        };
        let session = self.signs_in("password").then(|| {
            self.deps
                .sessions
                .issue(identity.id, "password", None, req.device.clone(), now)
        });
        // Composed for a new address too, so that both branches do the same work; a taken
        // address's owner gets it in the transaction that found the address taken, which
        // then commits as a new account's would (SECURITY.md C2, C3).
        let notice = match (&session, self.verification.enabled()) {
            (None, true) => self.taken_notice(&identity, now)?,
            _ => None,
        };
        let squatters_may_go = self.deps.settings.identity.unverified_lifespan.is_some();
        let rows = session.as_ref().map(Issued::rows);
        let first = notice.as_ref().filter(|_| !squatters_may_go);
        let mut stored = self
            .deps
            .store
            .register_identity(&identity, rows, first)
            .await;
        if matches!(stored, Err(StoreError::Conflict(_))) && squatters_may_go {
            self.evict_squatters(&identity, flow.id, req, now).await?;
            let rows = session.as_ref().map(Issued::rows);
            stored = self
                .deps
                .store
                .register_identity(&identity, rows, notice.as_ref())
                .await;
        }
        let registered = |session, decoy| Registered {
            method: Method::Password,
            session,
            decoy,
            admit,
        };
        match stored {
            Ok(()) => {
                self.after_registration(flow, identity, registered(session, false), req, now)
                    .await
            }
            // With the session hook a duplicate cannot be hidden (the new account would be
            // signed in, the duplicate not), so it is reported as Kratos does.
            Err(StoreError::Conflict(_)) if session.is_some() => {
                flow.ui.messages.push(messages::duplicate_identifier());
                show_error(&self.deps, flow, now).await
            }
            // Otherwise the answer is the same as for a new account; the address's owner
            // gets a notice instead of a code.
            Err(StoreError::Conflict(_)) => {
                self.after_registration(flow, identity, registered(None, true), req, now)
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The notice for the address the verification hook would mail, if it is taken.
    fn taken_notice(
        &self,
        identity: &crate::identity::Identity,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::persistence::OutboxMessage>, FlowError> {
        match identity
            .verifiable_addresses
            .iter()
            .find(|a| !a.verified && !a.value.is_empty())
        {
            Some(a) => self.duplicate_notice(a.via, &a.value, now).map(Some),
            None => Ok(None),
        }
    }

    /// The send limits apply to the message a sign-up triggers (per client and per address,
    /// keyed by what was submitted), before any work: otherwise repeated sign-ups with a
    /// taken address would mail-bomb its owner, and sign-ups with fresh phone numbers would
    /// send SMS without bound. New and taken addresses are limited alike; the form answers
    /// 429. A number the SMS policy refuses is left to the verification hook, which makes the
    /// flow look sent and sends nothing.
    async fn admit_send(
        &self,
        derived: &crate::schema::Derived,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Admit, FlowError> {
        if !self.verification.enabled() {
            return Ok(Admit::Done);
        }
        let Some((via, address)) = derived.verifiable.first() else {
            return Ok(Admit::Done);
        };
        let to = To { via: *via, address };
        match self.deps.delivery.admit(to, Some(&req.client), now).await? {
            Admission::Send => Ok(Admit::Done),
            Admission::Refused(_) => Ok(Admit::Check),
            Admission::Limited { retry_after } => Err(FlowError::RateLimited(retry_after)),
        }
    }
}
