//! The verification flow: `choose_method -> sent_email -> passed_challenge`, persisted, with
//! the UI nodes Kratos emits for each state.

mod consume;
mod deliver;
mod hook;
mod nodes;
mod outcome;
mod service;
mod submit;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::FlowType;
use super::ui::Ui;
use crate::schema::Via;

pub use deliver::Recipient;
pub use hook::Origin;
pub use nodes::{choose_method_ui, sent_ui, success_ui};
pub use outcome::{Outcome, VerificationError};
pub use service::{BrowserSignal, Submission, SubmitContext, VerificationService};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    ChooseMethod,
    SentEmail,
    PassedChallenge,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChooseMethod => "choose_method",
            Self::SentEmail => "sent_email",
            Self::PassedChallenge => "passed_challenge",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "choose_method" => Some(Self::ChooseMethod),
            "sent_email" => Some(Self::SentEmail),
            "passed_challenge" => Some(Self::PassedChallenge),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Code,
    Link,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Link => "link",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "code" => Some(Self::Code),
            "link" => Some(Self::Link),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("illegal verification transition from {from:?} to {to:?}")]
pub struct IllegalTransition {
    pub from: State,
    pub to: State,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerificationFlow {
    pub id: Uuid,
    pub kind: FlowType,
    pub state: State,
    pub active: Option<Method>,
    pub request_url: String,
    pub return_to: Option<String>,
    /// The unmasked CSRF token the flow is bound to (browser flows); empty for api flows.
    pub csrf_token: String,
    pub ui: Ui,
    /// Code submissions so far, counted before each check and never reset by a resend.
    pub submit_count: i32,
    /// Codes or links sent in this flow (the first send and the resends).
    pub send_count: i32,
    /// The channel of the last send (hidden, as in Kratos): it picks the success message.
    pub via: Option<Via>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub transient_payload: Option<Value>,
}

impl VerificationFlow {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// A code or link went out (first send or resend).
    pub fn sent(&mut self, method: Method, via: Via) -> Result<(), IllegalTransition> {
        match self.state {
            State::ChooseMethod | State::SentEmail => {
                self.state = State::SentEmail;
                self.active = Some(method);
                self.via = Some(via);
                Ok(())
            }
            State::PassedChallenge => Err(IllegalTransition {
                from: self.state,
                to: State::SentEmail,
            }),
        }
    }

    /// The challenge was answered.
    pub fn passed(&mut self) -> Result<(), IllegalTransition> {
        match self.state {
            State::SentEmail | State::ChooseMethod => {
                self.state = State::PassedChallenge;
                Ok(())
            }
            State::PassedChallenge => Err(IllegalTransition {
                from: self.state,
                to: State::PassedChallenge,
            }),
        }
    }

    /// The flow as the API shows it (`verificationFlow`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("expires_at".into(), json!(self.expires_at));
        m.insert("issued_at".into(), json!(self.issued_at));
        m.insert("request_url".into(), json!(self.request_url));
        if let Some(r) = &self.return_to {
            m.insert("return_to".into(), json!(r));
        }
        if let Some(a) = self.active {
            m.insert("active".into(), json!(a.as_str()));
        }
        m.insert("ui".into(), json!(self.ui));
        m.insert("state".into(), json!(self.state.as_str()));
        if let Some(t) = &self.transient_payload {
            m.insert("transient_payload".into(), t.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(state: State) -> VerificationFlow {
        let now = Utc::now();
        VerificationFlow {
            id: Uuid::new_v4(),
            kind: FlowType::Api,
            state,
            active: None,
            request_url: "http://x/".into(),
            return_to: None,
            csrf_token: String::new(),
            ui: Ui {
                action: "a".into(),
                method: "POST".into(),
                nodes: vec![],
                messages: vec![],
            },
            submit_count: 0,
            send_count: 0,
            via: None,
            issued_at: now,
            expires_at: now,
            transient_payload: None,
        }
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        let mut f = flow(State::ChooseMethod);
        f.sent(Method::Code, Via::Email).unwrap();
        assert_eq!(f.state, State::SentEmail);
        f.sent(Method::Code, Via::Email).unwrap();
        f.passed().unwrap();
        assert_eq!(f.state, State::PassedChallenge);
        assert!(
            f.sent(Method::Code, Via::Email).is_err(),
            "a finished flow cannot send again"
        );
        assert!(f.passed().is_err(), "nor pass twice");
    }

    #[test]
    fn json_omits_empty_optionals() {
        let f = flow(State::ChooseMethod);
        let j = f.to_json();
        assert!(j.get("return_to").is_none() && j.get("active").is_none());
        assert!(j["ui"].get("messages").is_none());
        assert_eq!(j["state"], "choose_method");
        assert_eq!(j["type"], "api");
    }
}
