//! Settings: the signed-in user changes their traits (`profile`) or password (`password`).
//! Changes of identifiers, verifiable or recovery addresses and the password need a recent
//! login; a changed verifiable address is verified again and the old one is told (`after.rs`).

mod after;
mod change;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::flow::core::messages::{self, no_strategy};
use crate::flow::core::ui::csrf_node;
use crate::flow::core::{
    Flow, FlowDeps, FlowError, FlowKind, FlowService, FlowType, Init, MethodError, NewFlow,
    Outcome, ParseMethod, Request, SessionUse, Submission, show_error,
};
use crate::flow::verification::VerificationService;
use crate::identity::Identity;
use crate::password::PasswordPolicy;
use crate::session::Session;
use crate::strategy::password::{self as pw, PasswordFields};
use crate::strategy::profile::{ProfileFields, trait_nodes};

/// A settings submission, by method.
#[derive(Debug)]
pub enum SettingsMethod {
    Profile(ProfileFields),
    Password(PasswordFields),
}

impl ParseMethod for SettingsMethod {
    fn parse(method: Option<&str>, fields: Map<String, Value>) -> Result<Self, MethodError> {
        match method {
            Some("profile") => Ok(Self::Profile(ProfileFields { fields })),
            Some("password") => Ok(Self::Password(PasswordFields::take(fields))),
            _ => Err(MethodError::NoStrategy),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SettingsService {
    deps: FlowDeps,
    verification: VerificationService,
    policy: PasswordPolicy,
}

impl SettingsService {
    pub fn new(deps: FlowDeps) -> Self {
        Self {
            verification: VerificationService::new(deps.clone()),
            policy: PasswordPolicy::from_settings(&deps.settings),
            deps,
        }
    }

    /// A new flow for `identity`, its traits filled in.
    fn fresh(&self, new: NewFlow, identity: &Identity, now: DateTime<Utc>) -> Flow {
        let mut flow = self.deps.new_flow(new, now);
        flow.identity_id = Some(identity.id);
        self.fill_ui(&mut flow, &identity.schema_id, &identity.traits);
        flow
    }

    /// A stored settings flow for `identity` that continues from another flow (recovery),
    /// showing `message`.
    pub async fn start_for(
        &self,
        origin: NewFlow,
        identity: &Identity,
        message: crate::text::Text,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        let mut flow = self.fresh(origin, identity, now);
        flow.ui.messages.push(message);
        self.deps.flows.insert(&flow).await?;
        Ok(flow)
    }

    /// The CSRF node, the profile group (traits and its submit) and the password group.
    fn fill_ui(&self, flow: &mut Flow, schema_id: &str, traits: &Value) {
        let mut nodes = Vec::new();
        if flow.flow_type == FlowType::Browser {
            nodes.push(csrf_node(&crate::csrf::mask(&flow.csrf_token)));
        }
        if let Some(schema) = self.deps.identities.schemas().get(schema_id) {
            nodes.extend(trait_nodes(&schema.raw, traits).into_iter().map(|mut n| {
                n.group = "profile".into();
                n
            }));
        }
        nodes.push(pw::submit_node("profile", messages::label_save()));
        if self.deps.settings.selfservice.methods.password.enabled {
            nodes.push(pw::password_node(false, false));
            nodes.push(pw::submit_node("password", messages::label_save()));
        }
        flow.ui.nodes = nodes;
    }

    /// The login flow that re-authenticates and comes back to this settings flow.
    fn refresh_required(&self, flow: &Flow) -> FlowError {
        let back = self.deps.ui_location(FlowKind::Settings, flow.id);
        let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        FlowError::RefreshRequired {
            login_url: format!(
                "{}self-service/login/browser?refresh=true&return_to={back}",
                self.deps.public
            ),
        }
    }

    /// Whether the session logged in recently enough for a sensitive change.
    fn is_privileged(&self, session: &Session, now: DateTime<Utc>) -> bool {
        self.deps.sessions.is_privileged(session, now)
    }

    /// A form error: the flow shows its form again, with its messages.
    async fn show_form(&self, mut flow: Flow, now: DateTime<Utc>) -> Result<Outcome, FlowError> {
        flow.form_shown()?;
        show_error(&self.deps, flow, now).await
    }
}

/// The session of a settings request (the handlers ask for one).
fn signed_in(req: &Request, back: Option<String>) -> Result<&(Session, Identity), FlowError> {
    req.session.as_ref().ok_or(FlowError::NoSession { back })
}

impl FlowService for SettingsService {
    type Method = SettingsMethod;
    const KIND: FlowKind = FlowKind::Settings;
    const SESSION: SessionUse = SessionUse::Required;

    fn deps(&self) -> &FlowDeps {
        &self.deps
    }

    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        let (_, identity) = signed_in(req, Some(init.request_url.clone()))?;
        let new = NewFlow::from_init(&self.deps, FlowKind::Settings, init, req)?;
        Ok(self.fresh(new, identity, now))
    }

    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError> {
        let (_, identity) = signed_in(req, None)?;
        Ok(self.fresh(
            NewFlow::renewing(FlowKind::Settings, old, req),
            identity,
            now,
        ))
    }

    /// Without a session a browser signs in and comes back to the flow's page (the POST-only
    /// submit URL would be a dead end).
    fn before_submit(&self, id: uuid::Uuid, req: &Request) -> Result<(), FlowError> {
        let back = self.deps.ui_location(FlowKind::Settings, id);
        signed_in(req, Some(back)).map(|_| ())
    }

    /// Only the identity the flow was made for may see or change it.
    fn authorize(&self, flow: &Flow, req: &Request) -> Result<(), FlowError> {
        let back = self.deps.ui_location(FlowKind::Settings, flow.id);
        let (_, identity) = signed_in(req, Some(back))?;
        match flow.identity_id {
            Some(owner) if owner == identity.id => Ok(()),
            _ => Err(FlowError::IdentityMismatch),
        }
    }

    /// A settings flow never passes a challenge; it stays editable.
    async fn on_finished(
        &self,
        flow: Flow,
        _sub: &Submission<Self::Method>,
        _req: &Request,
        _now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        Ok(Outcome::Show { flow, status: 400 })
    }

    async fn submit(
        &self,
        mut flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let (session, identity) = signed_in(req, None)?;
        match sub.method {
            Ok(SettingsMethod::Profile(fields)) => {
                self.profile(flow, fields, session, identity.clone(), req, now)
                    .await
            }
            Ok(SettingsMethod::Password(fields))
                if self.deps.settings.selfservice.methods.password.enabled =>
            {
                self.password(flow, fields, session, identity.clone(), req, now)
                    .await
            }
            _ => {
                flow.ui.clear_messages();
                flow.ui
                    .messages
                    .push(no_strategy(4010004, "update your settings"));
                self.show_form(flow, now).await
            }
        }
    }
}
