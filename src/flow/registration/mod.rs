//! Registration with the password and oidc methods: traits validated against the identity
//! schema (the profile strategy's nodes), then the after-registration hooks (`after.rs`).

mod after;
mod oidc;
mod password;
mod squat;

pub use oidc::SocialSignUp;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::flow::core::messages::{self, no_strategy};
use crate::flow::core::ui::csrf_node;
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, NewFlow, Outcome, Request,
    SessionUse, Submission, show_error,
};
use crate::flow::verification::VerificationService;
use crate::password::PasswordPolicy;
use crate::strategy::PasswordOrOidc;
use crate::strategy::oidc as oidc_strategy;
use crate::strategy::password as pw;
use crate::strategy::profile::trait_nodes;

#[derive(Clone, Debug)]
pub struct RegistrationService {
    deps: FlowDeps,
    verification: VerificationService,
    policy: PasswordPolicy,
}

impl RegistrationService {
    pub fn new(deps: FlowDeps) -> Self {
        Self {
            verification: VerificationService::new(deps.clone()),
            policy: PasswordPolicy::from_settings(&deps.settings),
            deps,
        }
    }

    fn enabled(&self) -> bool {
        self.deps
            .cfg(FlowKind::Registration)
            .enabled
            .unwrap_or(true)
    }

    /// Whether sign-up by `method` signs in (its `session` hook).
    fn signs_in(&self, method: &str) -> bool {
        crate::flow::core::hooks::has(self.deps.hooks.registration.for_method(method), |h| {
            matches!(h, crate::flow::core::hooks::AfterHook::Session)
        })
    }

    /// A new flow showing the schema's traits, a password field and the submit button.
    fn fresh(&self, new: NewFlow, now: DateTime<Utc>) -> Flow {
        let mut flow = self.deps.new_flow(new, now);
        self.fill_ui(&mut flow, &json!({}));
        flow
    }

    /// A new registration flow continuing `old`'s browser (not stored): the expired flow of a
    /// social sign-up, or a sign-in whose subject has no account yet.
    pub fn continuation(&self, old: &Flow, now: DateTime<Utc>) -> Flow {
        let new = NewFlow::after(FlowKind::Registration, old, old.csrf_token.clone());
        self.fresh(new, now)
    }

    /// The CSRF node, the traits (filled with `traits`), password, submit and the provider
    /// buttons.
    fn fill_ui(&self, flow: &mut Flow, traits: &Value) {
        let mut nodes = Vec::new();
        if flow.flow_type == FlowType::Browser {
            nodes.push(csrf_node(&crate::csrf::mask(&flow.csrf_token)));
        }
        if let Some(schema) = self.deps.identities.schemas().default_schema() {
            nodes.extend(trait_nodes(&schema.raw, traits));
        }
        if self.deps.settings.selfservice.methods.password.enabled {
            nodes.push(pw::password_node(false, true));
            nodes.push(pw::submit_node("password", messages::label_sign_up()));
        }
        flow.ui.nodes = nodes;
        oidc_strategy::add_provider_nodes(&mut flow.ui, &self.deps, FlowKind::Registration);
    }
}

impl FlowService for RegistrationService {
    type Method = PasswordOrOidc;
    const KIND: FlowKind = FlowKind::Registration;
    const SESSION: SessionUse = SessionUse::Optional;

    fn deps(&self) -> &FlowDeps {
        &self.deps
    }

    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        if req.session.is_some() {
            return Err(FlowError::SessionAlreadyAvailable);
        }
        if !self.enabled() {
            return Err(FlowError::Disabled {
                kind: FlowKind::Registration,
                reason: "Registration is not allowed because it was disabled.",
            });
        }
        let new = NewFlow::from_init(&self.deps, FlowKind::Registration, init, req)?;
        Ok(self.fresh(new, now))
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        Ok(self.fresh(NewFlow::renewing(FlowKind::Registration, old, req), now))
    }

    fn before_submit(&self, _id: uuid::Uuid, req: &Request) -> Result<(), FlowError> {
        match req.session {
            Some(_) => Err(FlowError::SessionAlreadyAvailable),
            None => Ok(()),
        }
    }

    async fn on_finished(
        &self,
        flow: Flow,
        _sub: &Submission<Self::Method>,
        _req: &Request,
        _now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        Ok(crate::flow::core::already_finished(flow, 4040002))
    }

    async fn submit(
        &self,
        mut flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        match sub.method {
            Ok(PasswordOrOidc::Password(fields))
                if self.deps.settings.selfservice.methods.password.enabled =>
            {
                self.password(flow, fields, req, now).await
            }
            Ok(PasswordOrOidc::Oidc(fields)) if oidc_strategy::enabled(&self.deps) => {
                oidc_strategy::start(&self.deps, flow, fields, now).await
            }
            _ => {
                flow.ui.clear_messages();
                flow.ui
                    .messages
                    .push(no_strategy(4010003, "sign you up with"));
                show_error(&self.deps, flow, now).await
            }
        }
    }
}
