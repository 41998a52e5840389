//! Account recovery: `choose_method -> sent_email -> passed_challenge` on the code strategy
//! (or the link strategy with `use: link`). A right code or link issues a privileged
//! session and opens a settings flow where the person sets a new password. Sending is in
//! `send.rs`, answering the challenge in `answer.rs`, the admin's codes and links in
//! `admin.rs`.

mod admin;
mod answer;
mod send;

use chrono::{DateTime, Utc};

pub use admin::{AdminIssue, AdminIssued};

use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, Method, MethodError, NewFlow,
    Outcome, Request, SessionUse, Submission,
};
use crate::flow::settings::SettingsService;
use crate::strategy::code::CodeFlow;
use crate::strategy::code::recovery_nodes;
use crate::strategy::{Asked, CodeOrLink};
use crate::text::{self, Text};

#[derive(Clone, Debug)]
pub struct RecoveryService {
    deps: FlowDeps,
    settings: SettingsService,
}

impl RecoveryService {
    pub fn new(deps: FlowDeps) -> Self {
        Self {
            settings: SettingsService::new(deps.clone()),
            deps,
        }
    }

    fn cfg(&self) -> &crate::config::GenericFlowConfig {
        &self.deps.settings.selfservice.flows.recovery
    }

    pub fn enabled(&self) -> bool {
        self.cfg().enabled.unwrap_or(false)
    }

    /// The method `selfservice.flows.recovery.use` names (`code` unless it says `link`).
    fn primary(&self) -> Method {
        match self.cfg().strategy.as_deref() {
            Some("link") => Method::Link,
            _ => Method::Code,
        }
    }

    fn method_enabled(&self, m: Method) -> bool {
        let methods = &self.deps.settings.selfservice.methods;
        match m {
            Method::Code => methods.code.is_enabled(),
            Method::Link => methods.link.enabled,
            _ => false,
        }
    }

    /// Recovery is on and its method too; otherwise Kratos's 400 (without an error id).
    fn check_enabled(&self) -> Result<(), FlowError> {
        let disabled = |reason| FlowError::Disabled {
            kind: FlowKind::Recovery,
            reason,
        };
        if !self.enabled() {
            return Err(disabled("Recovery is not allowed because it was disabled."));
        }
        match self.primary() {
            m if self.method_enabled(m) => Ok(()),
            Method::Link => Err(disabled(
                "The active recovery strategy link is not enabled. Please enable it in the configuration.",
            )),
            _ => Err(disabled(
                "The active recovery strategy code is not enabled. Please enable it in the configuration.",
            )),
        }
    }

    fn masked(flow: &Flow) -> Option<String> {
        (flow.flow_type == FlowType::Browser).then(|| crate::csrf::mask(&flow.csrf_token))
    }

    /// A new flow in `choose_method` showing `messages`.
    fn fresh(&self, new: NewFlow, messages: Vec<Text>, now: DateTime<Utc>) -> Flow {
        let mut flow = self.deps.new_flow(new, now);
        let method = self.primary();
        flow.active = Some(method);
        let masked = Self::masked(&flow);
        flow.ui = recovery_nodes::recovery_choose_ui(&flow.ui.action, method, masked.as_deref());
        flow.ui.messages = messages;
        flow
    }
}

impl CodeFlow for RecoveryService {
    fn already_done(&self) -> Text {
        text::recovery_already_done()
    }

    fn token_invalid(&self) -> Text {
        text::recovery_token_invalid()
    }
}

impl FlowService for RecoveryService {
    type Method = CodeOrLink;
    const KIND: FlowKind = FlowKind::Recovery;
    const SESSION: SessionUse = SessionUse::Optional;

    fn deps(&self) -> &FlowDeps {
        &self.deps
    }

    /// A signed-in browser has nothing to recover (Kratos: `session_already_available`).
    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        self.check_enabled()?;
        if req.session.is_some() {
            return Err(FlowError::SessionAlreadyAvailable);
        }
        let new = NewFlow::from_init(&self.deps, FlowKind::Recovery, init, req)?;
        Ok(self.fresh(new, Vec::new(), now))
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        Ok(self.fresh(
            NewFlow::renewing(FlowKind::Recovery, old, req),
            Vec::new(),
            now,
        ))
    }

    /// A token for a finished flow is simply no longer valid; anything else gets a new flow
    /// saying the request was already completed (4060001).
    async fn on_finished(
        &self,
        flow: Flow,
        sub: &Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let with_token = sub.method.as_ref().is_ok_and(CodeOrLink::has_token);
        self.finished(flow, with_token, req, now).await
    }

    fn check_available(&self) -> Result<(), FlowError> {
        self.check_enabled()
    }

    fn is_answer(&self, sub: &Submission<Self::Method>) -> bool {
        match &sub.method {
            Ok(CodeOrLink::Code(c) | CodeOrLink::Default(c)) => {
                c.code.is_some() && c.email.as_deref().is_none_or(str::is_empty)
            }
            Ok(CodeOrLink::Link(l)) => l.token.is_some(),
            Err(_) => false,
        }
    }

    /// Sends count against the send limits and codes against their own.
    fn submit_rule(&self) -> Option<crate::ratelimit::Rule> {
        None
    }

    async fn submit(
        &self,
        flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        self.check_enabled()?;
        let (method, fields) = match sub.method {
            Err(e) => {
                let message = match e {
                    MethodError::Unknown(reason) => text::reason(reason),
                    MethodError::Malformed(reason) => text::reason(reason),
                    MethodError::NoStrategy => text::no_strategy_recovery(),
                };
                return self.form_error(flow, Some("method"), message, now).await;
            }
            Ok(m) => match m.asked(self.primary()) {
                Asked::Token(t) => return self.use_link(flow, t.expose(), req, now).await,
                Asked::Fields(method, fields) => (method, fields),
            },
        };
        if method != self.primary() || flow.active.is_some_and(|a| a != method) {
            let message = text::no_strategy_recovery();
            return self.form_error(flow, None, message, now).await;
        }
        let email = fields.email.filter(|e| !e.trim().is_empty());
        match (req.is_get, email, fields.code) {
            (true, _, _) => Ok(Outcome::LinkRedirect { flow }),
            (false, Some(address), _) => self.send(flow, method, &address, req, now).await,
            (false, None, Some(code)) if flow.state == crate::flow::core::State::SentEmail => {
                self.use_code(flow, code.expose(), req, now).await
            }
            (false, None, None) if flow.state == crate::flow::core::State::SentEmail => {
                let message = text::missing_property("code");
                self.form_error(flow, Some("code"), message, now).await
            }
            _ => {
                let message = text::missing_property("email");
                self.form_error(flow, Some("email"), message, now).await
            }
        }
    }
}
