//! Login with the password method: any credential identifier (email, phone, username), a
//! dummy hash for unknown identifiers, throttling per account and per IP, `refresh`, and
//! the `require_verified_address` hook.

mod submit;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::FlowType;
use super::after::AfterHooks;
use super::env::{FlowEnv, FormError};
use super::form::{FlowKind, FormFlow};
use super::messages;
use super::ui::{Input, Ui};
use super::verification::VerificationService;
use crate::hash::PasswordHasher;
use crate::identity::Identity;
use crate::ratelimit::RateLimiter;
use crate::session::{Session, SessionService};

#[derive(Clone, Debug)]
pub struct LoginService {
    pub(super) env: FlowEnv,
    pub(super) sessions: SessionService,
    pub(super) verification: VerificationService,
    pub(super) hasher: PasswordHasher,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) hooks: Arc<AfterHooks>,
    /// A hash of a random password with the configured parameters, checked when the
    /// identifier is unknown so that both cases cost one argon2 verification.
    pub(super) dummy: Arc<OnceCell<String>>,
    /// Social sign-in providers (empty when the method is off).
    pub(super) oidc: crate::oidc::Providers,
}

impl LoginService {
    pub fn new(
        env: FlowEnv,
        sessions: SessionService,
        verification: VerificationService,
        hasher: PasswordHasher,
        limiter: Option<RateLimiter>,
        hooks: AfterHooks,
        oidc: crate::oidc::Providers,
    ) -> Self {
        Self {
            env,
            sessions,
            verification,
            hasher,
            limiter,
            hooks: Arc::new(hooks),
            dummy: Arc::new(OnceCell::new()),
            oidc,
        }
    }

    pub fn env(&self) -> &FlowEnv {
        &self.env
    }

    /// A new login flow. With a session and without `refresh` there is nothing to do
    /// (Kratos: `session_already_available`); with `refresh` the flow re-authenticates the
    /// session's identity.
    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<&str>,
        refresh: bool,
        csrf: String,
        current: Option<&(Session, Identity)>,
        now: DateTime<Utc>,
    ) -> Result<FormFlow, FormError> {
        if current.is_some() && !refresh {
            return Err(FormError::SessionAlreadyAvailable);
        }
        let return_to = self.env.check_return_to(return_to)?;
        let mut flow = self.env.new_flow(
            FlowKind::Login,
            flow_type,
            request_url,
            return_to,
            csrf,
            "choose_method",
            now,
        );
        if let (true, Some((_, identity))) = (refresh, current) {
            flow.refresh = true;
            flow.identity_id = Some(identity.id);
            flow.ui.messages.push(crate::text::info(
                1010003,
                "Please confirm this action by verifying that it is you.",
            ));
        }
        let identifier = match (flow.refresh, current) {
            (true, Some((_, identity))) => identity
                .credential("password")
                .and_then(|c| c.identifiers.first().cloned()),
            _ => None,
        };
        fill_ui(&mut flow.ui, identifier.as_deref());
        if !flow.refresh {
            super::oidc::add_provider_nodes(&mut flow.ui, &self.env, &self.oidc, FlowKind::Login);
        }
        self.env.store.insert_form_flow(&flow).await?;
        Ok(flow)
    }

    pub async fn get(&self, id: Uuid) -> Result<FormFlow, FormError> {
        self.env.get(FlowKind::Login, id).await
    }

    pub fn ui_location(&self, id: Uuid) -> String {
        self.env.ui_location(FlowKind::Login, id)
    }
}

/// identifier, password and the submit button after the CSRF node. On a refresh the
/// identifier is fixed (hidden).
pub(super) fn fill_ui(ui: &mut Ui, identifier: Option<&str>) {
    ui.nodes
        .retain(|n| n.attributes.get("name") == Some(&json!("csrf_token")));
    ui.nodes.push(
        Input {
            name: "identifier",
            kind: if identifier.is_some() {
                "hidden"
            } else {
                "text"
            },
            group: "default",
            value: Some(json!(identifier.unwrap_or(""))),
            required: true,
            autocomplete: Some("username"),
            label: Some(messages::label_identifier()),
        }
        .node(),
    );
    ui.nodes.push(
        Input {
            name: "password",
            kind: "password",
            group: "password",
            value: None,
            required: true,
            autocomplete: Some("current-password"),
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
            label: Some(messages::label_sign_in()),
        }
        .node(),
    );
}
