//! `POST /self-service/settings?flow=`: the `profile` and `password` methods and the
//! after-settings hooks (verification of a new address, notice to the old one).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::SettingsService;
use crate::flow::FlowType;
use crate::flow::after::{self, AfterHook};
use crate::flow::env::{Done, FlowEnv, FormError, FormOutcome, clear_messages};
use crate::flow::form::FormFlow;
use crate::flow::messages::{self, no_strategy, trait_error, trait_error_node};
use crate::flow::registration::FormSubmission;
use crate::flow::traits::traits_from_fields;
use crate::flow::verification::{Origin, Recipient, SubmitContext};
use crate::identity::{AddressStatus, Identity, IdentityError, IdentityInput};
use crate::persistence::{Channel, StoreError};
use crate::ratelimit::Rule;
use crate::schema::{Derived, Via};
use crate::session::Session;

impl SettingsService {
    pub async fn submit(
        &self,
        id: Uuid,
        sub: FormSubmission,
        ctx: SubmitContext,
        current: Option<(Session, Identity)>,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let mut flow = self.get(id).await?;
        let (session, identity) = current.ok_or(FormError::NoSession)?;
        if flow.identity_id != Some(identity.id) {
            return Err(FormError::IdentityMismatch);
        }
        flow.transient_payload = sub.transient_payload.clone();
        if flow.is_expired(now) {
            let csrf = FlowEnv::renewal_csrf(&flow, &ctx);
            let new = self.fresh(
                flow.flow_type,
                flow.request_url.clone(),
                flow.return_to.clone(),
                csrf,
                &identity,
                now,
            );
            return self.env.replace_expired(&flow, new, now).await;
        }
        if self
            .env
            .refuse_browser_on_api(&mut flow, &ctx, sub.csrf_token.as_deref())?
        {
            return self.show_error(flow, now).await;
        }
        if let (Some(limiter), Some(client)) = (&self.limiter, &ctx.client) {
            self.env
                .limit(limiter, Rule::SubmitPerIp, client, now)
                .await?;
        }
        match sub.method.as_deref() {
            Some("profile") => self.profile(flow, sub, &ctx, &session, identity, now).await,
            Some("password") if self.env.settings.selfservice.methods.password.enabled => {
                self.password(flow, sub, &ctx, &session, identity, now)
                    .await
            }
            _ => {
                clear_messages(&mut flow.ui);
                flow.ui
                    .messages
                    .push(no_strategy(4010004, "update your settings"));
                self.show_error(flow, now).await
            }
        }
    }

    async fn show_error(
        &self,
        mut flow: FormFlow,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        flow.state = "show_form".into();
        self.env.store.update_form_flow(&flow, now).await?;
        Ok(FormOutcome::Show { flow, status: 400 })
    }

    fn refresh_required(&self, flow: &FormFlow) -> FormError {
        FormError::RefreshRequired {
            login_url: self.refresh_login_url(flow.id),
        }
    }

    async fn profile(
        &self,
        mut flow: FormFlow,
        sub: FormSubmission,
        ctx: &SubmitContext,
        session: &Session,
        identity: Identity,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let schema = self
            .identities
            .schemas()
            .get(&identity.schema_id)
            .cloned()
            .ok_or(FormError::Disabled(
                "The identity's schema is not configured.",
            ))?;
        let traits = traits_from_fields(&schema.raw, &sub.fields);
        clear_messages(&mut flow.ui);
        self.fill_ui(&mut flow.ui, &identity.schema_id, &traits);
        let derived = match schema.evaluate(&traits) {
            Ok(d) => d,
            Err(errors) => {
                for e in &errors {
                    flow.ui
                        .add_message(Some(&trait_error_node(e)), trait_error(e));
                }
                return self.show_error(flow, now).await;
            }
        };
        let before = schema.evaluate(&identity.traits).ok();
        if touches_protected(before.as_ref(), &derived) && !self.is_privileged(session, now) {
            return Err(self.refresh_required(&flow));
        }
        let input = self.input_for(&identity, traits, None)?;
        let updated = match self
            .save(&mut flow, &identity, input, Some(derived), None, now)
            .await?
        {
            Ok(i) => i,
            Err(outcome) => return Ok(outcome),
        };
        self.after_settings(flow, updated, "profile", ctx, now)
            .await
    }

    async fn password(
        &self,
        mut flow: FormFlow,
        sub: FormSubmission,
        ctx: &SubmitContext,
        session: &Session,
        identity: Identity,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        clear_messages(&mut flow.ui);
        self.fill_ui(&mut flow.ui, &identity.schema_id, &identity.traits);
        let password = sub
            .password
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(crate::password::normalize);
        let Some(password) = password else {
            flow.ui
                .add_message(Some("password"), crate::text::missing_property("password"));
            return self.show_error(flow, now).await;
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
            return self.show_error(flow, now).await;
        }
        let input = self.input_for(&identity, identity.traits.clone(), Some(password))?;
        // A new password ends every other session, in the same transaction: whoever knew the
        // old one is signed out.
        let updated = match self
            .save(&mut flow, &identity, input, None, Some(session.id), now)
            .await?
        {
            Ok(i) => i,
            Err(outcome) => return Ok(outcome),
        };
        self.after_settings(flow, updated, "password", ctx, now)
            .await
    }

    /// The identity as it is, with new traits (and maybe a new password): what the admin API
    /// would be sent, so state, metadata and external id stay.
    fn input_for(
        &self,
        identity: &Identity,
        traits: Value,
        password: Option<String>,
    ) -> Result<IdentityInput, FormError> {
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
        serde_json::from_value(doc)
            .map_err(|e| FormError::Store(StoreError::Corrupt(e.to_string())))
    }

    /// Validates and stores; a user-facing failure comes back as the flow to show.
    async fn save(
        &self,
        flow: &mut FormFlow,
        identity: &Identity,
        input: IdentityInput,
        derived: Option<crate::schema::Derived>,
        end_sessions_except: Option<uuid::Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Result<Identity, FormOutcome>, FormError> {
        let stored = match self
            .identities
            .prepare_update(identity, input, derived, now)
            .await
        {
            Ok(updated) => {
                let notices = self.replaced_notices(identity, &updated, now)?;
                self.env
                    .store
                    .update_identity_with_messages(&updated, &notices, end_sessions_except)
                    .await
                    .map_err(IdentityError::from)
                    .and_then(|found| found.then_some(updated).ok_or(IdentityError::NotFound))
            }
            Err(e) => Err(e),
        };
        match stored {
            Ok(i) => Ok(Ok(i)),
            Err(IdentityError::Hash(h)) => Err(h.into()),
            Err(IdentityError::Store(s)) => Err(s.into()),
            Err(IdentityError::Conflict) => {
                flow.ui.messages.push(messages::duplicate_identifier());
                self.show_error(flow.clone(), now).await.map(Err)
            }
            Err(IdentityError::Validation(errors)) => {
                for e in &errors {
                    flow.ui
                        .add_message(Some(&trait_error_node(e)), trait_error(e));
                }
                self.show_error(flow.clone(), now).await.map(Err)
            }
            Err(other) => {
                flow.ui
                    .messages
                    .push(crate::text::reason(other.to_string()));
                self.show_error(flow.clone(), now).await.map(Err)
            }
        }
    }

    /// "Your address was replaced" to each email address the change removed, so the owner
    /// learns of a takeover through a stolen session. Queued in the identity's transaction:
    /// the change and its notices are stored together or not at all.
    fn replaced_notices(
        &self,
        before: &Identity,
        after: &Identity,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::persistence::OutboxMessage>, FormError> {
        let mut notices = Vec::new();
        let public = json!({"id": after.id, "schema_id": after.schema_id, "traits": before.traits});
        for old in before.verifiable_addresses.iter().filter(|a| {
            a.via == Via::Email
                && !after
                    .verifiable_addresses
                    .iter()
                    .any(|n| n.via == a.via && n.value == a.value)
        }) {
            let data = json!({"to": old.value, "identity": public});
            let message = self.courier.compose(
                Channel::Email,
                &old.value,
                crate::courier::TemplateKind::VerifiableAddressChanged,
                &data,
                None,
                now,
            )?;
            notices.push(message);
        }
        Ok(notices)
    }

    /// Kratos's post-persist hooks of settings: verification of the first `pending` address,
    /// then the configured hooks. The flow stays usable in `success`.
    async fn after_settings(
        &self,
        mut flow: FormFlow,
        mut identity: Identity,
        method: &str,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let mut continue_with = Vec::new();
        let mut redirect = self.return_url(&flow, method);
        let mut verification_url: Option<String> = None;
        if self.verification.enabled()
            && let Some(address) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| a.status == AddressStatus::Pending && !a.value.is_empty())
        {
            let origin = Origin {
                kind: flow.flow_type,
                request_url: flow.request_url.clone(),
                return_to: None,
                csrf: match flow.flow_type {
                    FlowType::Browser => ctx
                        .csrf_cookie
                        .clone()
                        .unwrap_or_else(|| flow.csrf_token.clone()),
                    FlowType::Api => String::new(),
                },
            };
            match self
                .verification
                .start_for_address(origin, address, Recipient::Lookup, now)
                .await
            {
                Ok(vflow) => {
                    address.status = AddressStatus::Sent;
                    let url = self.verification.flow_ui_url(&vflow);
                    flow.internal_context["verification_flow"] =
                        json!({"id": vflow.id, "address": address.value, "url": url});
                    continue_with.push(after::show_verification_ui(
                        vflow.id,
                        &address.value,
                        url.as_deref(),
                    ));
                    verification_url = url;
                }
                // The change is stored; the user can ask for a code from the verification page.
                Err(e) => {
                    tracing::warn!(error = %e, flow_id = %flow.id, "settings could not start verification");
                }
            }
        }
        let hook_ctx = json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url});
        for hook in self.hooks.for_method(method) {
            match hook {
                AfterHook::ShowVerificationUi => {
                    if let Some(u) = &verification_url {
                        redirect = u.clone();
                    }
                }
                AfterHook::WebHook(h) => {
                    if let Err(e) = h.run(hook_ctx.clone()).await {
                        tracing::warn!(error = %e, flow_id = %flow.id, "after-settings web hook failed");
                    }
                }
                _ => {}
            }
        }
        self.fill_ui(&mut flow.ui, &identity.schema_id, &identity.traits);
        flow.ui.messages.push(messages::settings_saved());
        flow.state = "success".into();
        self.env.store.update_form_flow(&flow, now).await?;
        Ok(FormOutcome::Done(Box::new(Done {
            flow,
            identity,
            session: None,
            continue_with,
            redirect,
        })))
    }
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
