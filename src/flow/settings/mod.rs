//! Settings: the signed-in user changes their traits (`profile`) or password (`password`).
//! Changes of identifiers, verifiable or recovery addresses and the password need a recent
//! login; a changed verifiable address is verified again and the old one is told.

mod submit;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::FlowType;
use super::after::AfterHooks;
use super::env::{FlowEnv, FormError};
use super::form::{FlowKind, FormFlow};
use super::messages;
use super::traits::trait_nodes;
use super::ui::{Input, Ui};
use super::verification::VerificationService;
use crate::courier::Courier;
use crate::identity::{Identity, IdentityService};
use crate::password::PasswordPolicy;
use crate::ratelimit::RateLimiter;
use crate::session::{Session, SessionService};

#[derive(Clone, Debug)]
pub struct SettingsService {
    pub(super) env: FlowEnv,
    pub(super) identities: IdentityService,
    pub(super) sessions: SessionService,
    pub(super) verification: VerificationService,
    pub(super) courier: Courier,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) hooks: Arc<AfterHooks>,
    pub(super) policy: PasswordPolicy,
}

impl SettingsService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: FlowEnv,
        identities: IdentityService,
        sessions: SessionService,
        verification: VerificationService,
        courier: Courier,
        limiter: Option<RateLimiter>,
        hooks: AfterHooks,
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
        }
    }

    pub fn env(&self) -> &FlowEnv {
        &self.env
    }

    /// A new flow for the session's identity, its traits filled in.
    pub async fn create(
        &self,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<&str>,
        csrf: String,
        session: &(Session, Identity),
        now: DateTime<Utc>,
    ) -> Result<FormFlow, FormError> {
        let return_to = self.env.check_return_to(return_to)?;
        let flow = self.fresh(flow_type, request_url, return_to, csrf, &session.1, now);
        self.env.store.insert_form_flow(&flow).await?;
        Ok(flow)
    }

    pub(super) fn fresh(
        &self,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<String>,
        csrf: String,
        identity: &Identity,
        now: DateTime<Utc>,
    ) -> FormFlow {
        let mut flow = self.env.new_flow(
            FlowKind::Settings,
            flow_type,
            request_url,
            return_to,
            csrf,
            "show_form",
            now,
        );
        flow.identity_id = Some(identity.id);
        self.fill_ui(&mut flow.ui, &identity.schema_id, &identity.traits);
        flow
    }

    /// The profile group (traits and its submit) and the password group after the CSRF node.
    pub(super) fn fill_ui(&self, ui: &mut Ui, schema_id: &str, traits: &Value) {
        ui.nodes.retain(|n| {
            n.group == "default" && n.attributes.get("name") == Some(&json!("csrf_token"))
        });
        if let Some(schema) = self.identities.schemas().get(schema_id) {
            ui.nodes
                .extend(trait_nodes(&schema.raw, traits).into_iter().map(|mut n| {
                    n.group = "profile".into();
                    n
                }));
        }
        ui.nodes.push(submit_node("profile"));
        if self.env.settings.selfservice.methods.password.enabled {
            ui.nodes.push(
                Input {
                    name: "password",
                    kind: "password",
                    group: "password",
                    value: None,
                    // Not `required`: a UI that renders both groups in one form must be
                    // able to save the profile with the password left empty.
                    required: false,
                    autocomplete: Some("new-password"),
                    label: Some(messages::label_password()),
                }
                .node(),
            );
            ui.nodes.push(submit_node("password"));
        }
    }

    pub async fn get(&self, id: Uuid) -> Result<FormFlow, FormError> {
        self.env.get(FlowKind::Settings, id).await
    }

    pub fn ui_location(&self, id: Uuid) -> String {
        self.env.ui_location(FlowKind::Settings, id)
    }

    /// The login flow that re-authenticates and comes back to this settings flow.
    pub fn refresh_login_url(&self, flow_id: Uuid) -> String {
        let back: String =
            url::form_urlencoded::byte_serialize(self.ui_location(flow_id).as_bytes()).collect();
        format!(
            "{}self-service/login/browser?refresh=true&return_to={back}",
            self.env.public
        )
    }

    /// Whether the session logged in recently enough for a sensitive change.
    pub fn is_privileged(&self, session: &Session, now: DateTime<Utc>) -> bool {
        self.sessions.is_privileged(session, now)
    }

    /// `{ui}?flow=` unless return_to or an `after` URL of the method or flow says otherwise
    /// (Kratos shows the settings flow again by default).
    pub(super) fn return_url(&self, flow: &FormFlow, method: &str) -> String {
        let after = &self.env.cfg(FlowKind::Settings).after;
        let per_method = match method {
            "password" => after.password.as_ref(),
            "profile" => after.profile.as_ref(),
            _ => None,
        }
        .and_then(|m| m.default_browser_return_url.clone());
        flow.return_to
            .clone()
            .or(per_method)
            .or_else(|| after.default_browser_return_url.clone())
            .unwrap_or_else(|| self.ui_location(flow.id))
    }
}

fn submit_node(method: &str) -> super::ui::Node {
    Input {
        name: "method",
        kind: "submit",
        group: method,
        value: Some(json!(method)),
        required: false,
        autocomplete: None,
        label: Some(messages::label_save()),
    }
    .node()
}
