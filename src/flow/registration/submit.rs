//! `POST /self-service/registration?flow=`: validate, hash, store, run the after-hooks.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::RegistrationService;
use crate::flow::after::{self, AfterHook};
use crate::flow::env::{Done, FlowEnv, FormError, FormOutcome, clear_messages};
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::messages::{self, trait_error, trait_error_node};
use crate::flow::traits::traits_from_fields;
use crate::flow::verification::{Origin, Recipient, SubmitContext};
use crate::flow::{FlowType, messages::no_strategy};
use crate::identity::{AddressStatus, Identity, IdentityError, IdentityInput};
use crate::persistence::{Channel, StoreError};
use crate::ratelimit::Rule;
use crate::schema::Via;
use crate::session::{DeviceInfo, Issued};

/// A login, registration or settings form: the fields every method knows, plus the rest
/// (traits) as submitted.
#[derive(Default, Clone)]
pub struct FormSubmission {
    pub method: Option<String>,
    pub password: Option<String>,
    pub identifier: Option<String>,
    pub csrf_token: Option<String>,
    pub provider: Option<String>,
    pub transient_payload: Option<Value>,
    pub fields: Map<String, Value>,
}

impl FormSubmission {
    pub fn from_fields(mut fields: Map<String, Value>) -> Self {
        let mut take = |k: &str| match fields.remove(k) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let method = take("method");
        let password = take("password");
        let identifier = take("identifier");
        let csrf_token = take("csrf_token");
        let provider = take("provider");
        let transient_payload = fields.remove("transient_payload").filter(|v| !v.is_null());
        Self {
            method,
            password,
            identifier,
            csrf_token,
            provider,
            transient_payload,
            fields,
        }
    }
}

impl fmt::Debug for FormSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormSubmission")
            .field("method", &self.method)
            .field("has_password", &self.password.is_some())
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RegistrationService {
    pub async fn submit(
        &self,
        id: Uuid,
        sub: FormSubmission,
        ctx: SubmitContext,
        device: DeviceInfo,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let mut flow = self.get(id).await?;
        flow.transient_payload = sub.transient_payload.clone();
        if flow.is_expired(now) {
            let new = self.fresh(
                flow.flow_type,
                flow.request_url.clone(),
                flow.return_to.clone(),
                FlowEnv::renewal_csrf(&flow, &ctx),
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
        if flow.state == "passed_challenge" {
            clear_messages(&mut flow.ui);
            flow.ui
                .messages
                .push(crate::text::verification_already_done_as(4040002));
            return Ok(FormOutcome::Show { flow, status: 400 });
        }
        if let (Some(limiter), Some(client)) = (&self.limiter, &ctx.client) {
            self.env
                .limit(limiter, Rule::SubmitPerIp, client, now)
                .await?;
        }
        match sub.method.as_deref() {
            Some("password") if self.env.settings.selfservice.methods.password.enabled => {
                self.password(flow, sub, ctx, device, now).await
            }
            _ if crate::flow::oidc::requested(&sub)
                && crate::flow::oidc::enabled(&self.env, &self.oidc) =>
            {
                crate::flow::oidc::start(&self.env, &self.oidc, flow, sub.provider.as_deref(), now)
                    .await
            }
            _ => {
                clear_messages(&mut flow.ui);
                flow.ui
                    .messages
                    .push(no_strategy(4010003, "sign you up with"));
                self.show_error(flow, now).await
            }
        }
    }

    pub(super) async fn show_error(
        &self,
        flow: FormFlow,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        self.env.store.update_form_flow(&flow, now).await?;
        Ok(FormOutcome::Show { flow, status: 400 })
    }

    async fn password(
        &self,
        mut flow: FormFlow,
        sub: FormSubmission,
        ctx: SubmitContext,
        device: DeviceInfo,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let schema = self
            .identities
            .schemas()
            .default_schema()
            .cloned()
            .ok_or(FormError::Disabled("No identity schema is configured."))?;
        let traits = traits_from_fields(&schema.raw, &sub.fields);
        clear_messages(&mut flow.ui);
        self.fill_ui(&mut flow.ui, &traits);
        let derived = match schema.evaluate(&traits) {
            Ok(d) => Some(d),
            Err(errors) => {
                for e in &errors {
                    flow.ui
                        .add_message(Some(&trait_error_node(e)), trait_error(e));
                }
                None
            }
        };
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
        let Some(derived) = derived else {
            return self.show_error(flow, now).await;
        };
        if derived.password_identifiers.is_empty() {
            flow.ui.messages.push(messages::no_identifiers());
            return self.show_error(flow, now).await;
        }
        if let Err(violation) = self.policy.check(&password, &derived.password_identifiers) {
            flow.ui.add_message(Some("password"), violation.text());
            return self.show_error(flow, now).await;
        }
        self.limit_sends(&derived, &ctx, now).await?;
        let input: IdentityInput = serde_json::from_value(json!({
            "schema_id": schema.id,
            "traits": traits,
            "credentials": {"password": {"config": {"password": password}}},
        }))
        .map_err(|e| FormError::Store(StoreError::Corrupt(e.to_string())))?;
        let identity = match self.identities.prepare(input, derived, now).await {
            Ok(i) => i,
            Err(IdentityError::Hash(h)) => return Err(h.into()),
            Err(IdentityError::Store(s)) => return Err(s.into()),
            Err(other) => {
                flow.ui
                    .messages
                    .push(crate::text::reason(other.to_string()));
                return self.show_error(flow, now).await;
            }
        };
        let session = self.signs_in("password").then(|| {
            self.sessions
                .issue(identity.id, "password", None, device, now)
        });
        let stored = self
            .env
            .store
            .register_identity(&identity, session.as_ref().map(Issued::rows))
            .await;
        match stored {
            Ok(()) => {
                self.after_registration(flow, identity, session, false, &ctx, "password", now)
                    .await
            }
            // With the session hook a duplicate cannot be hidden (the new account would be
            // signed in, the duplicate not), so it is reported as Kratos does.
            Err(StoreError::Conflict(_)) if session.is_some() => {
                flow.ui.messages.push(messages::duplicate_identifier());
                self.show_error(flow, now).await
            }
            // Otherwise the answer is the same as for a new account; the address's owner
            // gets a notice instead of a code.
            Err(StoreError::Conflict(_)) => {
                self.after_registration(flow, identity, None, true, &ctx, "password", now)
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Kratos's post-persist hooks: verification first, then the configured ones, `session`
    /// last. `decoy` answers a sign-up with a taken address exactly like a new one.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::flow) async fn after_registration(
        &self,
        mut flow: FormFlow,
        mut identity: Identity,
        session: Option<Issued>,
        decoy: bool,
        ctx: &SubmitContext,
        method: &str,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let mut continue_with = Vec::new();
        let mut redirect = self.env.return_url(FlowKind::Registration, &flow, method);
        let mut verification: Option<(Uuid, String, Option<String>)> = None;
        if self.verification.enabled()
            && let Some(address) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| !a.verified && !a.value.is_empty())
        {
            let recipient = if decoy {
                Recipient::Decoy(
                    self.duplicate_notice(address.via, &address.value, now)?
                        .map(Box::new),
                )
            } else {
                Recipient::Lookup
            };
            let csrf = match flow.flow_type {
                FlowType::Browser => ctx
                    .csrf_cookie
                    .clone()
                    .unwrap_or_else(|| flow.csrf_token.clone()),
                FlowType::Api => String::new(),
            };
            let origin = Origin {
                kind: flow.flow_type,
                request_url: flow.request_url.clone(),
                return_to: None,
                csrf,
            };
            let vflow = self
                .verification
                .start_for_address(origin, address, recipient, now)
                .await?;
            address.status = AddressStatus::Sent;
            let url = self.verification.flow_ui_url(&vflow);
            flow.internal_context["verification_flow"] =
                json!({"id": vflow.id, "address": address.value, "url": url});
            verification = Some((vflow.id, address.value.clone(), url));
        }
        let hooks = self.hooks.for_method(method);
        let hook_ctx = hooks
            .iter()
            .any(|h| matches!(h, AfterHook::WebHook(_)))
            .then(|| json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url}));
        for hook in hooks {
            match hook {
                AfterHook::ShowVerificationUi => {
                    if let Some((id, address, url)) = &verification {
                        continue_with.push(after::show_verification_ui(
                            *id,
                            address,
                            url.as_deref(),
                        ));
                        if let Some(u) = url {
                            redirect = u.clone();
                        }
                    }
                }
                // Off the request path: the identity is stored, a failing notification must
                // not undo the sign-up, and a taken address (no hook) must not answer faster.
                AfterHook::WebHook(h) if !decoy => {
                    let (h, ctx, flow_id) = (h.clone(), hook_ctx.clone(), flow.id);
                    tokio::spawn(async move {
                        if let Err(e) = h.run(ctx.unwrap_or_default()).await {
                            tracing::warn!(error = %e, %flow_id, "after-registration web hook failed");
                        }
                    });
                }
                _ => {}
            }
        }
        if let (Some(s), FlowType::Api) = (&session, flow.flow_type) {
            continue_with.push(after::set_session_token(s.token.expose()));
        }
        flow.state = "passed_challenge".into();
        self.env.store.update_form_flow(&flow, now).await?;
        Ok(FormOutcome::Done(Box::new(Done {
            flow,
            identity,
            session,
            continue_with,
            redirect,
        })))
    }

    /// The send limits of verification apply to the message a sign-up triggers (per client
    /// and per address, keyed by what was submitted), before any work: otherwise repeated
    /// sign-ups with a taken address would mail-bomb its owner, and sign-ups with fresh phone
    /// numbers would send SMS without bound. New and taken addresses are limited alike.
    async fn limit_sends(
        &self,
        derived: &crate::schema::Derived,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<(), FormError> {
        let Some(limiter) = self
            .limiter
            .as_ref()
            .filter(|_| self.verification.enabled())
        else {
            return Ok(());
        };
        if let Some(client) = &ctx.client {
            self.env
                .limit(limiter, Rule::SendPerIp, client, now)
                .await?;
        }
        if let Some((_, address)) = derived.verifiable.first() {
            for rule in [
                Rule::VerificationSendPerAddressShort,
                Rule::VerificationSendPerAddressDay,
            ] {
                self.env.limit(limiter, rule, address, now).await?;
            }
        }
        Ok(())
    }

    /// "Someone tried to sign up with your address", by email only (an SMS would cost money
    /// for every probe).
    fn duplicate_notice(
        &self,
        via: Via,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::persistence::OutboxMessage>, FormError> {
        if via != Via::Email {
            return Ok(None);
        }
        let data = json!({"to": address, "login_url": format!("{}self-service/login/browser", self.env.public)});
        Ok(Some(self.courier.compose(
            Channel::Email,
            address,
            crate::courier::TemplateKind::RegistrationDuplicate,
            &data,
            None,
            now,
        )?))
    }
}
