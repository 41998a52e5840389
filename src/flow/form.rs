//! Login, registration and settings flows: one persisted shape, told apart by `FlowKind`.
//! Each kind's service fills the UI and interprets the state.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::FlowType;
use super::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    Login,
    Registration,
    Settings,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
            Self::Settings => "settings",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "registration" => Some(Self::Registration),
            "settings" => Some(Self::Settings),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormFlow {
    pub id: Uuid,
    pub kind: FlowKind,
    pub flow_type: FlowType,
    /// `choose_method`/`passed_challenge` (login, registration), `show_form`/`success` (settings).
    pub state: String,
    pub request_url: String,
    pub return_to: Option<String>,
    /// The unmasked CSRF token of the browser that started the flow; empty for api flows.
    pub csrf_token: String,
    pub ui: Ui,
    /// Settings: whose flow this is. Login: the identity being re-authenticated (refresh).
    pub identity_id: Option<Uuid>,
    pub refresh: bool,
    /// Server-side facts a later step needs (e.g. the verification flow a hook started).
    pub internal_context: Value,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Carried from the submission to hooks; never stored.
    pub transient_payload: Option<Value>,
}

impl FormFlow {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// The flow as the API shows it (`loginFlow`, `registrationFlow`, `settingsFlow` minus
    /// the identity, which the settings service adds).
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
        m.insert("ui".into(), json!(self.ui));
        if self.kind == FlowKind::Login {
            m.insert("created_at".into(), json!(self.issued_at));
            m.insert("updated_at".into(), json!(self.updated_at));
            m.insert("refresh".into(), json!(self.refresh));
            m.insert("requested_aal".into(), json!("aal1"));
        }
        m.insert("state".into(), json!(self.state));
        if let Some(t) = &self.transient_payload {
            m.insert("transient_payload".into(), t.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_json_carries_its_extra_fields() {
        let now = Utc::now();
        let f = FormFlow {
            id: Uuid::new_v4(),
            kind: FlowKind::Login,
            flow_type: FlowType::Browser,
            state: "choose_method".into(),
            request_url: "http://x/".into(),
            return_to: None,
            csrf_token: String::new(),
            ui: Ui {
                action: "a".into(),
                method: "POST".into(),
                nodes: vec![],
                messages: vec![],
            },
            identity_id: None,
            refresh: true,
            internal_context: json!({}),
            issued_at: now,
            expires_at: now,
            updated_at: now,
            transient_payload: None,
        };
        let j = f.to_json();
        assert_eq!(j["refresh"], true);
        assert_eq!(j["requested_aal"], "aal1");
        assert!(j.get("return_to").is_none());
        let mut r = f.clone();
        r.kind = FlowKind::Registration;
        assert!(r.to_json().get("refresh").is_none());
    }
}
