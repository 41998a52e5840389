//! `POST /self-service/login?flow=` with the password method.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{LoginService, fill_ui};
use crate::flow::FlowType;
use crate::flow::after::{self, AfterHook};
use crate::flow::env::{Done, FlowEnv, FormError, FormOutcome, clear_messages};
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::messages::{self, no_strategy};
use crate::flow::registration::FormSubmission;
use crate::flow::verification::{Origin, Recipient, SubmitContext};
use crate::identity::{Identity, IdentityState};
use crate::ratelimit::Rule;
use crate::schema::{normalize_email, normalize_phone};
use crate::session::DeviceInfo;

/// The stored forms an identifier may take: lower-cased email, E.164 phone, or the
/// trimmed, lower-cased username.
fn identifier_keys(raw: &str) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if raw.contains('@')
        && let Ok(e) = normalize_email(raw)
    {
        keys.push(e);
    }
    if !raw.contains('@')
        && let Ok(p) = normalize_phone(raw)
    {
        keys.push(p);
    }
    let plain = raw.trim().to_lowercase();
    if !keys.contains(&plain) {
        keys.push(plain);
    }
    keys
}

impl LoginService {
    #[allow(clippy::too_many_arguments)]
    pub async fn submit(
        &self,
        id: Uuid,
        sub: FormSubmission,
        ctx: SubmitContext,
        device: DeviceInfo,
        current: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let mut flow = self.get(id).await?;
        flow.transient_payload = sub.transient_payload.clone();
        if flow.is_expired(now) {
            let mut new = self.env.new_flow(
                FlowKind::Login,
                flow.flow_type,
                flow.request_url.clone(),
                flow.return_to.clone(),
                FlowEnv::renewal_csrf(&flow, &ctx),
                "choose_method",
                now,
            );
            fill_ui(&mut new.ui, None);
            crate::flow::oidc::add_provider_nodes(
                &mut new.ui,
                &self.env,
                &self.oidc,
                FlowKind::Login,
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
                .push(crate::text::verification_already_done_as(4010007));
            return Ok(FormOutcome::Show { flow, status: 400 });
        }
        // A refresh re-authenticates the signed-in identity; its UI offers no provider buttons.
        if !flow.refresh
            && crate::flow::oidc::requested(&sub)
            && crate::flow::oidc::enabled(&self.env, &self.oidc)
        {
            return crate::flow::oidc::start(
                &self.env,
                &self.oidc,
                flow,
                sub.provider.as_deref(),
                now,
            )
            .await;
        }
        if sub.method.as_deref() != Some("password")
            || !self.env.settings.selfservice.methods.password.enabled
        {
            clear_messages(&mut flow.ui);
            flow.ui
                .messages
                .push(no_strategy(4010002, "log you in with"));
            return self.show_error(flow, now).await;
        }
        self.password(flow, sub, ctx, device, current, now).await
    }

    async fn show_error(
        &self,
        flow: FormFlow,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        self.env.store.update_form_flow(&flow, now).await?;
        Ok(FormOutcome::Show { flow, status: 400 })
    }

    async fn limit(
        &self,
        rule: Rule,
        subject: &str,
        now: DateTime<Utc>,
        count: bool,
    ) -> Result<(), FormError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let verdict = if count {
            limiter.hit(rule, subject, now).await?
        } else {
            limiter.check(rule, subject, now).await?
        };
        verdict.map_err(|l| FormError::RateLimited(l.retry_after))
    }

    async fn dummy_hash(&self) -> Result<String, FormError> {
        let hasher = self.hasher.clone();
        let phc = self
            .dummy
            .get_or_try_init(|| async move {
                let random = crate::session::Token::generate("");
                hasher.hash(random.expose().to_owned()).await
            })
            .await?;
        Ok(phc.clone())
    }

    async fn password(
        &self,
        mut flow: FormFlow,
        sub: FormSubmission,
        ctx: SubmitContext,
        device: DeviceInfo,
        current: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let raw_identifier = sub.identifier.clone().unwrap_or_default();
        clear_messages(&mut flow.ui);
        flow.ui.set_value("identifier", json!(raw_identifier));
        let password = sub
            .password
            .as_deref()
            .map(crate::password::normalize)
            .unwrap_or_default();
        if raw_identifier.trim().is_empty() || password.is_empty() {
            let missing = if raw_identifier.trim().is_empty() {
                "identifier"
            } else {
                "password"
            };
            flow.ui
                .add_message(Some(missing), crate::text::missing_property(missing));
            return self.show_error(flow, now).await;
        }
        if password.len() > crate::password::MAX_PASSWORD_BYTES {
            flow.ui.messages.push(messages::invalid_credentials());
            return self.show_error(flow, now).await;
        }
        let keys = identifier_keys(&raw_identifier);
        if let Some(client) = &ctx.client {
            self.limit(Rule::LoginPerIp, client, now, true).await?;
        }
        // Keyed by what was typed (normalised), so known and unknown accounts throttle alike.
        self.limit(Rule::LoginFailuresPerAccount, &keys[0], now, false)
            .await?;
        let mut found: Option<Identity> = None;
        for key in &keys {
            if let Some(i) = self
                .env
                .store
                .find_identity_by_identifier("password", key)
                .await?
            {
                found = Some(i);
                break;
            }
        }
        let stored_hash = found
            .as_ref()
            .and_then(|i| i.credential("password"))
            .and_then(|c| c.config.get("hashed_password"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let refresh_target_ok = match (flow.identity_id, &found) {
            (Some(expected), Some(i)) => i.id == expected,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let (phc, real) = match stored_hash {
            Some(h) => (h, true),
            None => (self.dummy_hash().await?, false),
        };
        let matches = match self.hasher.verify(password, phc).await {
            Ok(m) => m,
            Err(crate::hash::HashError::UnsupportedHash) => false,
            Err(e) => return Err(e.into()),
        };
        let identity = match found {
            Some(i) if real && matches && refresh_target_ok => i,
            _ => {
                self.limit(Rule::LoginFailuresPerAccount, &keys[0], now, true)
                    .await?;
                flow.ui.messages.push(messages::invalid_credentials());
                return self.show_error(flow, now).await;
            }
        };
        if identity.state != IdentityState::Active {
            flow.ui.messages.push(messages::account_disabled());
            return self.show_error(flow, now).await;
        }
        self.finish(flow, identity, "password", None, &ctx, device, current, now)
            .await
    }

    /// The login after-hooks for `method`, then the session. Shared by every method.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::flow) async fn finish(
        &self,
        mut flow: FormFlow,
        identity: Identity,
        method: &str,
        provider: Option<String>,
        ctx: &SubmitContext,
        device: DeviceInfo,
        current: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let hooks = self.hooks.for_method(method);
        if after::has(hooks, |h| matches!(h, AfterHook::RequireVerifiedAddress))
            && let Some(outcome) = self
                .require_verified(&mut flow, &identity, ctx, now)
                .await?
        {
            return Ok(outcome);
        }
        // The flow is claimed before a session exists: of two concurrent submissions of one
        // flow only the first gets a session (the update refuses a finished flow).
        flow.state = "passed_challenge".into();
        if !self.env.store.update_form_flow(&flow, now).await? {
            flow.state = "choose_method".into();
            clear_messages(&mut flow.ui);
            flow.ui
                .messages
                .push(crate::text::verification_already_done_as(4010007));
            return Ok(FormOutcome::Show { flow, status: 400 });
        }
        let issued = self
            .sessions
            .issue(identity.id, method, provider, device, now);
        self.sessions.persist(&issued, current).await?;
        let mut continue_with = Vec::new();
        let hook_ctx = if hooks.iter().any(|h| matches!(h, AfterHook::WebHook(_))) {
            json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url})
        } else {
            Value::Null
        };
        for hook in hooks {
            match hook {
                AfterHook::RevokeActiveSessions => {
                    self.env
                        .store
                        .deactivate_identity_sessions(identity.id, Some(issued.session.id), now)
                        .await?;
                }
                AfterHook::WebHook(h) => {
                    if let Err(e) = h.run(hook_ctx.clone()).await {
                        tracing::warn!(error = %e, flow_id = %flow.id, "after-login web hook failed");
                    }
                }
                _ => {}
            }
        }
        if flow.flow_type == FlowType::Api {
            continue_with.push(after::set_session_token(issued.token.expose()));
        }
        let redirect = self.env.return_url(FlowKind::Login, &flow, method);
        Ok(FormOutcome::Done(Box::new(Done {
            flow,
            identity,
            session: Some(issued),
            continue_with,
            redirect,
        })))
    }

    /// The `require_verified_address` hook, before any session exists. `Some` ends the login.
    async fn require_verified(
        &self,
        flow: &mut FormFlow,
        identity: &Identity,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Option<FormOutcome>, FormError> {
        if identity.verifiable_addresses.is_empty() {
            return Err(FormError::NoVerifiableAddress);
        }
        if identity.verifiable_addresses.iter().any(|a| a.verified) {
            return Ok(None);
        }
        if self
            .env
            .settings
            .feature_flags
            .legacy_require_verified_login_error
        {
            flow.ui.messages.push(messages::address_not_verified());
            return self.show_error(flow.clone(), now).await.map(Some);
        }
        let Some(address) = identity
            .verifiable_addresses
            .iter()
            .find(|a| !a.value.is_empty())
        else {
            return Err(FormError::NoVerifiableAddress);
        };
        let csrf = match flow.flow_type {
            FlowType::Browser => ctx
                .csrf_cookie
                .clone()
                .unwrap_or_else(|| flow.csrf_token.clone()),
            FlowType::Api => String::new(),
        };
        let vflow = self
            .verification
            .start_for_address(
                Origin {
                    kind: flow.flow_type,
                    request_url: flow.request_url.clone(),
                    return_to: flow.return_to.clone(),
                    csrf,
                },
                address,
                Recipient::Lookup,
                now,
            )
            .await?;
        // The continue_with item always carries the UI URL here (Kratos §7.3).
        let url = self.verification.ui_location(vflow.id);
        Err(FormError::VerifiedAddressRequired {
            verification_flow: vflow.id,
            continue_with: json!([after::show_verification_ui(
                vflow.id,
                &address.value,
                Some(&url)
            )]),
            location: url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::identifier_keys;

    #[test]
    fn identifiers_are_tried_in_their_stored_forms() {
        assert_eq!(identifier_keys(" Ada@Example.COM "), ["ada@example.com"]);
        assert_eq!(
            identifier_keys("+49 151 12345678"),
            ["+4915112345678", "+49 151 12345678"]
        );
        assert_eq!(identifier_keys("Ada"), ["ada"]);
    }
}
