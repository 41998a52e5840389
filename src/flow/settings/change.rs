//! The `profile` and `password` changes: validated, checked for a recent login where they
//! touch what a login relies on, and stored with their notices in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::SettingsService;
use crate::courier::TemplateKind;
use crate::delivery::Recipient as To;
use crate::flow::core::messages;
use crate::flow::core::{Flow, FlowError, Method, Outcome, Request};
use crate::identity::{Identity, IdentityError, IdentityInput};
use crate::persistence::{Channel, OutboxMessage};
use crate::schema::{Derived, Via};
use crate::session::Session;
use crate::strategy::password::PasswordFields;
use crate::strategy::profile::{ProfileFields, show_trait_errors, traits_from_fields};

impl SettingsService {
    pub(super) async fn profile(
        &self,
        mut flow: Flow,
        fields: ProfileFields,
        session: &Session,
        identity: Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let schema = self
            .deps
            .identities
            .schemas()
            .get(&identity.schema_id)
            .cloned()
            .ok_or_else(|| FlowError::unexpected("the identity's schema is not configured"))?;
        let traits = traits_from_fields(&schema.raw, &fields.fields);
        flow.ui.clear_messages();
        self.fill_ui(&mut flow, &identity.schema_id, &traits);
        let derived = match schema.evaluate(&traits) {
            Ok(d) => d,
            Err(errors) => {
                show_trait_errors(&mut flow.ui, &errors);
                return self.show_form(flow, now).await;
            }
        };
        let before = schema.evaluate(&identity.traits).ok();
        let protected = touches_protected(before.as_ref(), &derived);
        if protected && !self.is_privileged(session, now) {
            return Err(self.refresh_required(&flow));
        }
        let input = input_for(&identity, traits, None)?;
        let change = Change {
            input,
            derived: Some(derived),
            end_sessions_except: None,
        };
        match self.save(&mut flow, &identity, change, req, now).await? {
            Ok(updated) => {
                if protected {
                    let actor = req.actor(flow.id, Some(updated.id), None);
                    crate::audit::event(crate::audit::AuditEvent::AddressChanged(actor));
                }
                self.after_settings(flow, updated, Method::Profile, req, now)
                    .await
            }
            Err(outcome) => Ok(outcome),
        }
    }

    pub(super) async fn password(
        &self,
        mut flow: Flow,
        fields: PasswordFields,
        session: &Session,
        identity: Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        flow.ui.clear_messages();
        self.fill_ui(&mut flow, &identity.schema_id, &identity.traits);
        let Some(password) = fields.normalized_password() else {
            flow.ui
                .add_message(Some("password"), crate::text::missing_property("password"));
            return self.show_form(flow, now).await;
        };
        if !self.is_privileged(session, now) {
            return Err(self.refresh_required(&flow));
        }
        let identifiers = identity
            .credential("password")
            .map(|c| c.identifiers.clone())
            .unwrap_or_default();
        if let Err(violation) = self.policy.check(&password, &identifiers) {
            flow.ui.add_message(Some("password"), violation.text());
            return self.show_form(flow, now).await;
        }
        let input = input_for(&identity, identity.traits.clone(), Some(password))?;
        // A new password ends every other session, in the same transaction: whoever knew the
        // old one is signed out.
        let change = Change {
            input,
            derived: None,
            end_sessions_except: Some(session.id),
        };
        match self.save(&mut flow, &identity, change, req, now).await? {
            Ok(updated) => {
                let actor = req.actor(flow.id, Some(updated.id), None);
                crate::audit::event(crate::audit::AuditEvent::PasswordChanged(actor));
                self.after_settings(flow, updated, Method::Password, req, now)
                    .await
            }
            Err(outcome) => Ok(outcome),
        }
    }

    /// Validates and stores; a user-facing failure comes back as the flow to show.
    async fn save(
        &self,
        flow: &mut Flow,
        identity: &Identity,
        change: Change,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Result<Identity, Outcome>, FlowError> {
        let stored = match self
            .deps
            .identities
            .prepare_update(identity, change.input, change.derived, now)
            .await
        {
            Ok(updated) => {
                let mut notices = self.replaced_notices(identity, &updated, req, now).await?;
                if change.end_sessions_except.is_some() {
                    notices.extend(self.password_notices(&updated, req, now).await?);
                }
                self.deps
                    .store
                    .update_identity_with_messages(&updated, &notices, change.end_sessions_except)
                    .await
                    .map_err(IdentityError::from)
                    .and_then(|found| found.then_some(updated).ok_or(IdentityError::NotFound))
            }
            Err(e) => Err(e),
        };
        let message = match stored {
            Ok(i) => return Ok(Ok(i)),
            Err(e @ (IdentityError::Hash(_) | IdentityError::Store(_))) => return Err(e.into()),
            Err(IdentityError::Conflict) => messages::duplicate_identifier(),
            Err(IdentityError::Validation(errors)) => {
                show_trait_errors(&mut flow.ui, &errors);
                return self.show_form(flow.clone(), now).await.map(Err);
            }
            Err(other) => crate::text::reason(other.to_string()),
        };
        flow.ui.messages.push(message);
        self.show_form(flow.clone(), now).await.map(Err)
    }

    /// "Your password was changed" to each email address of the identity (verified ones when
    /// it has any), queued with the change: the owner learns of a password set through a
    /// stolen session. Each notice passes the send limits.
    async fn password_notices(
        &self,
        identity: &Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, FlowError> {
        let emails: Vec<_> = identity
            .verifiable_addresses
            .iter()
            .filter(|a| a.via == Via::Email)
            .collect();
        let any_verified = emails.iter().any(|a| a.verified);
        let public =
            json!({"id": identity.id, "schema_id": identity.schema_id, "traits": identity.traits});
        let mut notices = Vec::new();
        for a in emails.into_iter().filter(|a| a.verified || !any_verified) {
            notices.extend(
                self.notice(&a.value, TemplateKind::PasswordChanged, &public, req, now)
                    .await?,
            );
        }
        Ok(notices)
    }

    /// A notice to `to`, composed when the send limits admit it.
    async fn notice(
        &self,
        to: &str,
        kind: TemplateKind,
        identity: &Value,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>, FlowError> {
        let recipient = To {
            via: Via::Email,
            address: to,
        };
        let admission = self.deps.delivery.admit(recipient, Some(&req.client), now);
        if !admission.await?.is_send() {
            return Ok(None);
        }
        let data = json!({"to": to, "identity": identity});
        let message = self
            .deps
            .courier
            .compose(Channel::Email, to, kind, &data, None, now)?;
        Ok(Some(message))
    }

    /// "Your address was replaced" to each email address the change removed, so the owner
    /// learns of a takeover through a stolen session. Queued in the identity's transaction:
    /// the change and its notices are stored together or not at all. Each notice passes the
    /// send limits: repeated changes cannot mail-bomb an address.
    async fn replaced_notices(
        &self,
        before: &Identity,
        after: &Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, FlowError> {
        let mut notices = Vec::new();
        let public = json!({"id": after.id, "schema_id": after.schema_id, "traits": before.traits});
        for old in before.verifiable_addresses.iter().filter(|a| {
            a.via == Via::Email
                && !after
                    .verifiable_addresses
                    .iter()
                    .any(|n| n.via == a.via && n.value == a.value)
        }) {
            let kind = TemplateKind::VerifiableAddressChanged;
            notices.extend(self.notice(&old.value, kind, &public, req, now).await?);
        }
        Ok(notices)
    }
}

/// What one settings change stores.
struct Change {
    input: IdentityInput,
    /// The new traits' evaluation, when the traits changed (it is not done twice).
    derived: Option<Derived>,
    /// A new password ends the identity's other sessions.
    end_sessions_except: Option<uuid::Uuid>,
}

/// The identity as it is, with new traits (and maybe a new password): what the admin API
/// would be sent, so state, metadata and external id stay.
fn input_for(
    identity: &Identity,
    traits: Value,
    password: Option<String>,
) -> Result<IdentityInput, FlowError> {
    let mut doc = json!({
        "schema_id": identity.schema_id,
        "traits": traits,
        "state": identity.state,
        "metadata_public": identity.metadata_public,
        "metadata_admin": identity.metadata_admin,
        "external_id": identity.external_id,
    });
    if let Some(p) = password {
        doc["credentials"] = json!({"password": {"config": {"password": p}}});
    }
    serde_json::from_value(doc).map_err(FlowError::unexpected)
}

/// Whether the change touches what a login or recovery relies on: identifiers, verifiable
/// or recovery addresses. Unknown old traits (schema changed) count as a change.
fn touches_protected(before: Option<&Derived>, after: &Derived) -> bool {
    let Some(b) = before else {
        return true;
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let pairs = |v: &[(Via, String)]| {
        sorted(
            v.iter()
                .map(|(via, s)| format!("{}:{s}", via.as_str()))
                .collect(),
        )
    };
    pairs(&b.verifiable) != pairs(&after.verifiable)
        || pairs(&b.recovery) != pairs(&after.recovery)
        || pairs(&b.code_identifiers) != pairs(&after.code_identifiers)
        || sorted(b.password_identifiers.clone()) != sorted(after.password_identifiers.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(email: &str) -> Derived {
        Derived {
            verifiable: vec![(Via::Email, email.into())],
            recovery: vec![],
            password_identifiers: vec![email.into()],
            code_identifiers: vec![],
        }
    }

    #[test]
    fn only_identifier_and_address_changes_are_protected() {
        assert!(!touches_protected(
            Some(&derived("a@x.io")),
            &derived("a@x.io")
        ));
        assert!(touches_protected(
            Some(&derived("a@x.io")),
            &derived("b@x.io")
        ));
        assert!(touches_protected(None, &derived("a@x.io")));
        let mut moved = derived("a@x.io");
        moved.password_identifiers = vec!["alias".into(), "a@x.io".into()];
        assert!(touches_protected(Some(&derived("a@x.io")), &moved));
    }
}
