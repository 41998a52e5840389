//! Registration: traits validated against the identity schema plus a password, then the
//! after-registration hooks (verification, show_verification_ui, web_hook, session).

mod submit;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::FlowType;
use super::after::AfterHooks;
use super::env::{FlowEnv, FormError};
use super::form::{FlowKind, FormFlow};
use super::messages;
use super::traits::trait_nodes;
use super::ui::{Input, Ui};
use super::verification::VerificationService;
use crate::courier::Courier;
use crate::identity::IdentityService;
use crate::password::PasswordPolicy;
use crate::ratelimit::RateLimiter;
use crate::session::SessionService;

pub use submit::FormSubmission;

#[derive(Clone, Debug)]
pub struct RegistrationService {
    pub(super) env: FlowEnv,
    pub(super) identities: IdentityService,
    pub(super) sessions: SessionService,
    pub(super) verification: VerificationService,
    pub(super) courier: Courier,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) hooks: Arc<AfterHooks>,
    pub(super) policy: PasswordPolicy,
    /// Social sign-in providers (empty when the method is off).
    pub(super) oidc: crate::oidc::Providers,
}

impl RegistrationService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: FlowEnv,
        identities: IdentityService,
        sessions: SessionService,
        verification: VerificationService,
        courier: Courier,
        limiter: Option<RateLimiter>,
        hooks: AfterHooks,
        oidc: crate::oidc::Providers,
    ) -> Self {
        let policy = PasswordPolicy::from_settings(&env.settings);
        Self {
            env,
            identities,
            sessions,
            verification,
            courier,
            limiter,
            hooks: Arc::new(hooks),
            policy,
            oidc,
        }
    }

    pub fn env(&self) -> &FlowEnv {
        &self.env
    }

    pub fn enabled(&self) -> bool {
        self.env.cfg(FlowKind::Registration).enabled.unwrap_or(true)
    }

    /// Whether sign-up signs in (the `session` hook for the password method).
    pub fn signs_in(&self, method: &str) -> bool {
        super::after::has(self.hooks.for_method(method), |h| {
            matches!(h, super::after::AfterHook::Session)
        })
    }

    /// A new flow showing the schema's traits, a password field and the submit button.
    pub async fn create(
        &self,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<&str>,
        csrf: String,
        now: DateTime<Utc>,
    ) -> Result<FormFlow, FormError> {
        if !self.enabled() {
            return Err(FormError::Disabled(
                "Registration is not allowed because it was disabled.",
            ));
        }
        let return_to = self.env.check_return_to(return_to)?;
        let flow = self.fresh(flow_type, request_url, return_to, csrf, now);
        self.env.store.insert_form_flow(&flow).await?;
        Ok(flow)
    }

    pub(super) fn fresh(
        &self,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<String>,
        csrf: String,
        now: DateTime<Utc>,
    ) -> FormFlow {
        let mut flow = self.env.new_flow(
            FlowKind::Registration,
            flow_type,
            request_url,
            return_to,
            csrf,
            "choose_method",
            now,
        );
        self.fill_ui(&mut flow.ui, &json!({}));
        flow
    }

    /// The method nodes after the CSRF node: traits, password, submit (and, when OIDC
    /// providers are configured, their buttons).
    pub(super) fn fill_ui(&self, ui: &mut Ui, traits: &Value) {
        ui.nodes.retain(|n| {
            n.group == "default" && n.attributes.get("name") == Some(&json!("csrf_token"))
        });
        if let Some(schema) = self.identities.schemas().default_schema() {
            ui.nodes.extend(trait_nodes(&schema.raw, traits));
        }
        if self.env.settings.selfservice.methods.password.enabled {
            ui.nodes.push(
                Input {
                    name: "password",
                    kind: "password",
                    group: "password",
                    value: None,
                    required: true,
                    autocomplete: Some("new-password"),
                    label: Some(messages::label_password()),
                }
                .node(),
            );
            ui.nodes.push(
                Input {
                    name: "method",
                    kind: "submit",
                    group: "password",
                    value: Some(json!("password")),
                    required: false,
                    autocomplete: None,
                    label: Some(messages::label_sign_up()),
                }
                .node(),
            );
        }
        super::oidc::add_provider_nodes(ui, &self.env, &self.oidc, FlowKind::Registration);
    }

    pub async fn get(&self, id: uuid::Uuid) -> Result<FormFlow, FormError> {
        self.env.get(FlowKind::Registration, id).await
    }

    pub fn ui_location(&self, id: uuid::Uuid) -> String {
        self.env.ui_location(FlowKind::Registration, id)
    }
}
