//! The persisted flow: the header every kind shares (id, type, state, URLs, CSRF binding, UI,
//! lifetimes, transient payload) and the few fields some kinds use (whose flow it is, the
//! active method, the challenge counters and the address a code went to).
//!
//! States are one enum; each kind moves through its own subset by named transitions, and an
//! illegal move is an error, never a silent no-op:
//! - verification, recovery, login by code: `choose_method -> sent_email -> passed_challenge`
//! - login (password, oidc), registration: `choose_method -> passed_challenge`
//! - settings: `show_form <-> success` (a settings flow stays editable)

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ui::Ui;
use crate::schema::Via;

/// `api` flows serve native apps (no cookies, no CSRF); `browser` flows serve browsers and SPAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowType {
    Api,
    Browser,
}

impl FlowType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Browser => "browser",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(Self::Api),
            "browser" => Some(Self::Browser),
            _ => None,
        }
    }
}

/// The kinds of self-service flow; each is a module under `flow/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    Login,
    Registration,
    Settings,
    Verification,
    Recovery,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
            Self::Settings => "settings",
            Self::Verification => "verification",
            Self::Recovery => "recovery",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Login,
            Self::Registration,
            Self::Settings,
            Self::Verification,
            Self::Recovery,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// Kratos's "the flow expired" message id of this kind (4010001, 4040001, ...).
    pub fn expired_message_id(self) -> u32 {
        match self {
            Self::Login => 4010001,
            Self::Registration => 4040001,
            Self::Settings => 4050001,
            Self::Recovery => 4060005,
            Self::Verification => 4070005,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    ChooseMethod,
    SentEmail,
    PassedChallenge,
    ShowForm,
    Success,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChooseMethod => "choose_method",
            Self::SentEmail => "sent_email",
            Self::PassedChallenge => "passed_challenge",
            Self::ShowForm => "show_form",
            Self::Success => "success",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ChooseMethod,
            Self::SentEmail,
            Self::PassedChallenge,
            Self::ShowForm,
            Self::Success,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
    /// The state a new flow of `kind` starts in.
    pub fn initial(kind: FlowKind) -> Self {
        match kind {
            FlowKind::Settings => Self::ShowForm,
            _ => Self::ChooseMethod,
        }
    }
}

/// The methods a flow can offer; the strategies under `strategy/` implement them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    Code,
    Link,
    Profile,
    Oidc,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Code => "code",
            Self::Link => "link",
            Self::Profile => "profile",
            Self::Oidc => "oidc",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Password,
            Self::Code,
            Self::Link,
            Self::Profile,
            Self::Oidc,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("illegal {kind:?} flow transition from {from:?} to {to:?}")]
pub struct IllegalTransition {
    pub kind: FlowKind,
    pub from: State,
    pub to: State,
}

/// What a flow that sends codes or links keeps about them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Challenge {
    /// Code submissions so far, counted before each check and never reset by a resend.
    pub submit_count: i32,
    /// Codes or links sent in this flow (the first send and the resends).
    pub send_count: i32,
    /// The channel of the last send: it picks the success message.
    pub via: Option<Via>,
    /// The normalised address the last code or link went to (the subject of the per-address
    /// failure budget, and what a resend sends to).
    pub sent_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: Uuid,
    pub kind: FlowKind,
    pub flow_type: FlowType,
    pub state: State,
    pub request_url: String,
    pub return_to: Option<String>,
    /// The unmasked CSRF token of the browser the flow is bound to; empty for api flows.
    pub csrf_token: String,
    pub ui: Ui,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Carried from the submission to hooks and templates; never stored.
    pub transient_payload: Option<Value>,
    /// Settings: whose flow this is. Login: the identity being re-authenticated (refresh).
    pub identity_id: Option<Uuid>,
    pub refresh: bool,
    /// Server-side facts a later step needs (the verification flow a hook started, a
    /// pending social sign-in); never shown.
    pub internal_context: Value,
    pub active: Option<Method>,
    pub challenge: Challenge,
}

/// The `internal_context` key that marks a browser flow bound to no browser.
pub const UNBOUND_BROWSER: &str = "unbound_browser";

impl Flow {
    /// A browser flow bound to no browser: a recovery flow an administrator issued, which
    /// whoever holds its link may open (Kratos's `DangerousSkipCSRFCheck`).
    pub fn is_unbound(&self) -> bool {
        self.internal_context.get(UNBOUND_BROWSER) == Some(&Value::Bool(true))
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    fn illegal(&self, to: State) -> IllegalTransition {
        IllegalTransition {
            kind: self.kind,
            from: self.state,
            to,
        }
    }

    fn sends_codes(&self) -> bool {
        matches!(
            self.kind,
            FlowKind::Verification | FlowKind::Recovery | FlowKind::Login
        )
    }

    /// A code or link went out (first send or resend) to `address` by `via`.
    pub fn code_sent(
        &mut self,
        method: Method,
        via: Via,
        address: &str,
    ) -> Result<(), IllegalTransition> {
        match self.state {
            State::ChooseMethod | State::SentEmail if self.sends_codes() => {
                self.state = State::SentEmail;
                self.active = Some(method);
                self.challenge.via = Some(via);
                self.challenge.sent_to = Some(address.to_owned());
                Ok(())
            }
            _ => Err(self.illegal(State::SentEmail)),
        }
    }

    /// The challenge was answered (code, link, password, provider): the flow is finished.
    pub fn passed(&mut self) -> Result<(), IllegalTransition> {
        match self.state {
            State::ChooseMethod | State::SentEmail if self.kind != FlowKind::Settings => {
                self.state = State::PassedChallenge;
                Ok(())
            }
            _ => Err(self.illegal(State::PassedChallenge)),
        }
    }

    /// A settings change was saved; the flow stays editable.
    pub fn saved(&mut self) -> Result<(), IllegalTransition> {
        match self.state {
            State::ShowForm | State::Success if self.kind == FlowKind::Settings => {
                self.state = State::Success;
                Ok(())
            }
            _ => Err(self.illegal(State::Success)),
        }
    }

    /// A settings submission failed: the form is shown again.
    pub fn form_shown(&mut self) -> Result<(), IllegalTransition> {
        match self.state {
            State::ShowForm | State::Success if self.kind == FlowKind::Settings => {
                self.state = State::ShowForm;
                Ok(())
            }
            _ => Err(self.illegal(State::ShowForm)),
        }
    }

    /// The flow as the API shows it (`verificationFlow`, `loginFlow`, ...); a settings flow's
    /// identity is added by the settings service.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(self.flow_type.as_str()));
        m.insert("expires_at".into(), json!(self.expires_at));
        m.insert("issued_at".into(), json!(self.issued_at));
        m.insert("request_url".into(), json!(self.request_url));
        if let Some(r) = &self.return_to {
            m.insert("return_to".into(), json!(r));
        }
        if let (Some(a), FlowKind::Verification | FlowKind::Recovery) = (self.active, self.kind) {
            m.insert("active".into(), json!(a.as_str()));
        }
        m.insert("ui".into(), json!(self.ui));
        if self.kind == FlowKind::Login {
            m.insert("created_at".into(), json!(self.issued_at));
            m.insert("updated_at".into(), json!(self.updated_at));
            m.insert("refresh".into(), json!(self.refresh));
            m.insert("requested_aal".into(), json!("aal1"));
            if let Some(a) = self.active {
                m.insert("active".into(), json!(a.as_str()));
            }
        }
        m.insert("state".into(), json!(self.state.as_str()));
        if let Some(t) = &self.transient_payload {
            m.insert("transient_payload".into(), t.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
