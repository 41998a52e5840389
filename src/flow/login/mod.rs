//! Login with the password and oidc methods: `choose_method -> passed_challenge`, `refresh`,
//! and the after-hooks (`require_verified_address`, web hooks, session) in `finish.rs`.

mod code;
mod finish;

pub use code::LoginMethod;

use chrono::{DateTime, Utc};

use crate::flow::core::messages::{self, no_strategy};
use crate::flow::core::ui::csrf_node;
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, Method, NewFlow, Outcome,
    Request, SessionUse, Step, Submission, show_error,
};
use crate::flow::verification::VerificationService;
use crate::ratelimit::Rule;
use crate::strategy::code::login::send_code_button;
use crate::strategy::oidc;
use crate::strategy::password::{self, Authenticator};

#[derive(Clone, Debug)]
pub struct LoginService {
    deps: FlowDeps,
    auth: Authenticator,
    verification: VerificationService,
}

impl LoginService {
    pub fn new(deps: FlowDeps) -> Self {
        Self {
            verification: VerificationService::new(deps.clone()),
            auth: Authenticator::default(),
            deps,
        }
    }

    /// A new flow in `choose_method`; on a refresh the identifier is fixed and no provider
    /// buttons are offered.
    fn fresh(&self, new: NewFlow, identifier: Option<&str>, now: DateTime<Utc>) -> Flow {
        let mut flow = self.deps.new_flow(new, now);
        fill_ui(&mut flow, identifier, self.identifier_label());
        if identifier.is_none() && self.code_enabled() {
            flow.ui.nodes.push(send_code_button());
        }
        if identifier.is_none() {
            oidc::add_provider_nodes(&mut flow.ui, &self.deps, FlowKind::Login);
        }
        flow
    }

    /// The identifier's label: its title in the default schema ("E-Mail"), as Kratos shows it.
    fn identifier_label(&self) -> crate::text::Text {
        let schemas = self.deps.identities.schemas();
        schemas
            .default_schema()
            .map_or_else(messages::label_identifier, |s| {
                crate::strategy::profile::identifier_label(&s.raw)
            })
    }

    /// A new login flow continuing `old`'s browser (not stored): the expired flow of a social
    /// sign-in, or a sign-up whose subject already has an account.
    pub fn continuation(&self, old: &Flow, now: DateTime<Utc>) -> Flow {
        let new = NewFlow::after(FlowKind::Login, old, old.csrf_token.clone());
        self.fresh(new, None, now)
    }
}

/// The CSRF node (browser flows), then identifier, password and the submit button: "Sign in
/// with password" on a first sign-in, "Sign in" when re-authenticating (Kratos v26.2).
fn fill_ui(flow: &mut Flow, identifier: Option<&str>, label: crate::text::Text) {
    let mut nodes = Vec::new();
    if flow.flow_type == FlowType::Browser {
        nodes.push(csrf_node(&crate::csrf::mask(&flow.csrf_token)));
    }
    nodes.push(password::identifier_node(identifier, label));
    nodes.push(password::password_node(true, true));
    let submit = match identifier {
        None => messages::label_sign_in_with_password(),
        Some(_) => messages::label_sign_in(),
    };
    nodes.push(password::submit_node("password", submit));
    flow.ui.nodes = nodes;
}

impl FlowService for LoginService {
    type Method = LoginMethod;
    const KIND: FlowKind = FlowKind::Login;
    const SESSION: SessionUse = SessionUse::Optional;

    fn deps(&self) -> &FlowDeps {
        &self.deps
    }

    /// With a session and without `refresh` there is nothing to do (Kratos:
    /// `session_already_available`); with `refresh` the flow re-authenticates the session's
    /// identity.
    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        let refreshing = match (&req.session, init.refresh) {
            (Some(_), false) => return Err(FlowError::SessionAlreadyAvailable),
            (Some((_, identity)), true) => Some(identity),
            (None, _) => None,
        };
        let new = NewFlow::from_init(&self.deps, FlowKind::Login, init, req)?;
        let Some(identity) = refreshing else {
            return Ok(self.fresh(new, None, now));
        };
        let identifier = identity
            .credential("password")
            .and_then(|c| c.identifiers.first().cloned())
            .unwrap_or_default();
        let mut flow = self.fresh(new, Some(&identifier), now);
        flow.refresh = true;
        flow.identity_id = Some(identity.id);
        flow.ui.messages.push(crate::text::info(
            1010003,
            "Please confirm this action by verifying that it is you.",
        ));
        Ok(flow)
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        Ok(self.fresh(NewFlow::renewing(FlowKind::Login, old, req), None, now))
    }

    async fn on_finished(
        &self,
        flow: Flow,
        _sub: &Submission<Self::Method>,
        _req: &Request,
        _now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        Ok(crate::flow::core::already_finished(flow, 4010007))
    }

    fn submit_rule(&self) -> Option<Rule> {
        Some(Rule::LoginPerIp)
    }

    /// A sign-in code proves possession, as a verification code does.
    fn is_answer(&self, sub: &Submission<Self::Method>) -> bool {
        matches!(&sub.method, Ok(LoginMethod::Code(c)) if c.code.is_some() && !c.resend)
    }

    async fn submit(
        &self,
        mut flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let methods = &self.deps.settings.selfservice.methods;
        match sub.method {
            // A refresh re-authenticates the signed-in identity; it offers no providers.
            Ok(LoginMethod::Oidc(fields)) if !flow.refresh && oidc::enabled(&self.deps) => {
                oidc::start(&self.deps, flow, fields, now).await
            }
            Ok(LoginMethod::Password(fields)) if methods.password.enabled => {
                match self
                    .auth
                    .authenticate(&self.deps, flow, fields, req, now)
                    .await?
                {
                    Step::Answer(outcome) => Ok(*outcome),
                    Step::Proceed((flow, identity)) => {
                        self.finish(flow, identity, Method::Password, None, req, now)
                            .await
                    }
                }
            }
            Ok(LoginMethod::Code(fields)) if !flow.refresh && self.code_enabled() => {
                self.code(flow, fields, req, now).await
            }
            _ => {
                flow.ui.clear_messages();
                flow.ui
                    .messages
                    .push(no_strategy(4010002, "log you in with"));
                show_error(&self.deps, flow, now).await
            }
        }
    }
}
