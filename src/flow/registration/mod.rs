//! Registration with the password and oidc methods: traits validated against the identity
//! schema (the profile strategy's nodes), then the after-registration hooks (`after.rs`).

mod after;
mod oidc;
mod password;

pub use oidc::SocialSignUp;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::flow::core::messages::{self, no_strategy};
use crate::flow::core::ui::csrf_node;
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, MethodError, NewFlow,
    Outcome, ParseMethod, Request, SessionUse, Submission, show_error,
};
use crate::flow::verification::VerificationService;
use crate::password::PasswordPolicy;
use crate::strategy::oidc::{self as oidc_strategy, OidcFields};
use crate::strategy::password::{self as pw, PasswordFields};
use crate::strategy::profile::trait_nodes;

/// A registration submission, by method. The password method's `rest` are the traits.
#[derive(Debug)]
pub enum RegistrationMethod {
    Password(PasswordFields),
    Oidc(OidcFields),
}

impl ParseMethod for RegistrationMethod {
    fn parse(method: Option<&str>, mut fields: Map<String, Value>) -> Result<Self, MethodError> {
        if OidcFields::requested(method, &fields) {
            return Ok(Self::Oidc(OidcFields::take(&mut fields)));
        }
        match method {
            Some("password") => Ok(Self::Password(PasswordFields::take(fields))),
            _ => Err(MethodError::NoStrategy),
        }
    }
}

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
    type Method = RegistrationMethod;
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
        let new = NewFlow {
            kind: FlowKind::Registration,
            flow_type: init.flow_type.unwrap_or(FlowType::Browser),
            request_url: init.request_url.clone(),
            return_to: self.deps.check_return_to(init.return_to.as_deref())?,
            csrf: req.csrf_cookie.clone().unwrap_or_default(),
        };
        Ok(self.fresh(new, now))
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        let csrf = req.csrf_for(old.flow_type, &old.csrf_token);
        Ok(self.fresh(NewFlow::after(FlowKind::Registration, old, csrf), now))
    }

    fn before_submit(&self, _id: uuid::Uuid, req: &Request) -> Result<(), FlowError> {
        match req.session {
            Some(_) => Err(FlowError::SessionAlreadyAvailable),
            None => Ok(()),
        }
    }

    async fn on_finished(
        &self,
        mut flow: Flow,
        _sub: &Submission<Self::Method>,
        _req: &Request,
        _now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        flow.ui.clear_messages();
        flow.ui
            .messages
            .push(crate::text::verification_already_done_as(4040002));
        Ok(Outcome::Show { flow, status: 400 })
    }

    async fn submit(
        &self,
        mut flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        match sub.method {
            Ok(RegistrationMethod::Password(fields))
                if self.deps.settings.selfservice.methods.password.enabled =>
            {
                self.password(flow, fields, req, now).await
            }
            Ok(RegistrationMethod::Oidc(fields)) if oidc_strategy::enabled(&self.deps) => {
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
