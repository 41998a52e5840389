//! The verification flow: `choose_method -> sent_email -> passed_challenge`, with the code
//! and link strategies. Sending is in `send.rs`, answering the challenge in `answer.rs`.

mod answer;
mod send;

use chrono::{DateTime, Utc};

use crate::config::VerificationStrategy;
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, Method, MethodError, NewFlow,
    Outcome, Request, SessionUse, Submission,
};
use crate::ratelimit::Rule;
use crate::strategy::code::{CodeFlow, nodes};
use crate::strategy::{Asked, CodeOrLink};
use crate::text::{self, Text};

pub use send::{Admit, Recipient, Started};

#[derive(Clone, Debug)]
pub struct VerificationService {
    deps: FlowDeps,
}

impl VerificationService {
    pub fn new(deps: FlowDeps) -> Self {
        Self { deps }
    }

    fn cfg(&self) -> &crate::config::VerificationFlowConfig {
        &self.deps.settings.selfservice.flows.verification
    }

    pub fn enabled(&self) -> bool {
        self.cfg().enabled
    }

    /// The method `selfservice.flows.verification.use` names.
    fn primary(&self) -> Method {
        match self.cfg().strategy {
            VerificationStrategy::Code => Method::Code,
            VerificationStrategy::Link => Method::Link,
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

    /// Verification is on and its method too; otherwise Kratos's 400.
    fn check_enabled(&self) -> Result<(), FlowError> {
        let disabled = |reason| FlowError::Disabled {
            kind: FlowKind::Verification,
            reason,
        };
        if !self.enabled() {
            return Err(disabled(
                "Verification is not allowed because it was disabled.",
            ));
        }
        match self.primary() {
            m if self.method_enabled(m) => Ok(()),
            Method::Link => Err(disabled(
                "The active verification strategy link is not enabled. Please enable it in the configuration.",
            )),
            _ => Err(disabled(
                "The active verification strategy code is not enabled. Please enable it in the configuration.",
            )),
        }
    }

    /// Phone numbers are accepted when an SMS channel is configured (or mail goes to the dev inbox).
    fn phone_allowed(&self) -> bool {
        self.deps
            .courier
            .can_deliver(crate::persistence::Channel::Sms)
    }

    /// A new flow in `choose_method` showing `messages`.
    fn fresh(&self, new: NewFlow, messages: Vec<Text>, now: DateTime<Utc>) -> Flow {
        let mut flow = self.deps.new_flow(new, now);
        let method = self.primary();
        flow.active = Some(method);
        let masked =
            (flow.flow_type == FlowType::Browser).then(|| crate::csrf::mask(&flow.csrf_token));
        flow.ui = nodes::choose_method_ui(
            &flow.ui.action,
            method,
            masked.as_deref(),
            self.phone_allowed(),
        );
        flow.ui.messages = messages;
        flow
    }

    /// Where "Continue" leads after success: the flow's return_to, else the configured defaults.
    fn continue_url(&self, flow: &Flow) -> String {
        flow.return_to
            .clone()
            .or_else(|| self.cfg().after.default_browser_return_url.clone())
            .unwrap_or_else(|| {
                self.deps
                    .settings
                    .selfservice
                    .default_browser_return_url
                    .clone()
            })
    }
}

/// What replaces `old`: its request and return_to, of the type [`Request::replacement_type`]
/// picks, bound to the browser's CSRF cookie when it is a browser flow.
fn replacement(old: &Flow, req: &Request) -> NewFlow {
    let flow_type = req.replacement_type(old.flow_type);
    let mut new = NewFlow::after(
        FlowKind::Verification,
        old,
        req.csrf_for(flow_type, &old.csrf_token),
    );
    new.flow_type = flow_type;
    new
}

impl CodeFlow for VerificationService {
    fn already_done(&self) -> Text {
        text::verification_already_done()
    }

    fn token_invalid(&self) -> Text {
        text::verification_token_invalid()
    }
}

impl FlowService for VerificationService {
    type Method = CodeOrLink;
    const KIND: FlowKind = FlowKind::Verification;
    const SESSION: SessionUse = SessionUse::Ignored;

    fn deps(&self) -> &FlowDeps {
        &self.deps
    }

    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        self.check_enabled()?;
        let new = NewFlow::from_init(&self.deps, FlowKind::Verification, init, req)?;
        Ok(self.fresh(new, Vec::new(), now))
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        Ok(self.fresh(replacement(old, req), Vec::new(), now))
    }

    /// [`CodeFlow::finished`].
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
        match self.enabled() {
            true => Ok(()),
            false => Err(FlowError::Disabled {
                kind: FlowKind::Verification,
                reason: "Verification is not allowed because it was disabled.",
            }),
        }
    }

    fn is_answer(&self, sub: &Submission<Self::Method>) -> bool {
        match &sub.method {
            Ok(CodeOrLink::Code(c) | CodeOrLink::Default(c)) => c.code.is_some(),
            Ok(CodeOrLink::Link(l)) => l.token.is_some(),
            Err(_) => false,
        }
    }

    /// Sends count against the send limits and codes against their own, per path.
    fn submit_rule(&self) -> Option<Rule> {
        None
    }

    async fn submit(
        &self,
        flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let (method, fields) = match sub.method {
            Err(e) => {
                let message = match e {
                    MethodError::Unknown(reason) => text::reason(reason),
                    MethodError::Malformed(reason) => text::reason(reason),
                    MethodError::NoStrategy => text::no_strategy_verification(),
                };
                return self.form_error(flow, Some("method"), message, now).await;
            }
            Ok(m) => match m.asked(self.primary()) {
                Asked::Token(t) => return self.use_link(flow, t.expose(), req, now).await,
                Asked::Fields(method, fields) => (method, fields),
            },
        };
        if !self.method_enabled(method) || flow.active.is_some_and(|a| a != method) {
            let message = text::no_strategy_verification();
            return self.form_error(flow, None, message, now).await;
        }
        match (req.is_get, fields.code, fields.email) {
            (true, Some(code), _) => self.prefill(flow, code.expose(), req, now).await,
            (true, None, _) => Ok(Outcome::LinkRedirect { flow }),
            (false, Some(code), _) if method == Method::Code => {
                self.use_code(flow, code.expose(), req, now).await
            }
            (false, _, Some(address)) if !address.trim().is_empty() => {
                self.send(flow, method, &address, req, now).await
            }
            _ => {
                let message = text::missing_property("email");
                self.form_error(flow, Some("email"), message, now).await
            }
        }
    }
}
