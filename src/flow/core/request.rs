//! What a flow needs to know about the request and the submission; `http/` extracts both.

use std::fmt;

use serde_json::{Map, Value};

use crate::identity::Identity;
use crate::session::{DeviceInfo, Session};

/// Request facts the flow logic needs.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// GET (a link opened from a message) rather than a form POST: not state-changing in the
    /// CSRF sense, since a mail client cannot carry a token.
    pub is_get: bool,
    /// The unmasked token of the CSRF cookie, if the request carried a valid one.
    pub csrf_cookie: Option<String>,
    /// Set when the request looks like it comes from a browser (an `Origin` header, or
    /// cookies): such a request may not drive an api flow (Kratos's EnsureCSRF).
    pub browser_signal: Option<BrowserSignal>,
    /// Rate-limit subject for the client (IP or /64).
    pub client: String,
    pub device: DeviceInfo,
    /// The session the request presents, for the kinds that look at it.
    pub session: Option<(Session, Identity)>,
    /// The browser's device marks (`verity_device`): the identifiers signed in from it
    /// before, as keyed hashes. Such a browser is spared the identifier's hard lock.
    pub device_marks: Option<String>,
}

impl Request {
    /// The client's address, for audit lines.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.device.ip_address.as_deref()?.parse().ok()
    }

    /// Who an audit line is about: this request's client, `flow`, and optionally an identity
    /// and a subject (only its keyed hash is written).
    pub fn actor<'a>(
        &self,
        flow: uuid::Uuid,
        identity_id: Option<uuid::Uuid>,
        subject: Option<&'a str>,
    ) -> crate::audit::Actor<'a> {
        crate::audit::Actor {
            flow_id: Some(flow),
            identity_id,
            subject,
            client_ip: self.ip(),
        }
    }

    /// The CSRF token for a flow that replaces or continues one of `flow_type`: the
    /// requesting browser's (which may not be the one that started it: a link opened
    /// elsewhere), else `fallback`. Api flows have none.
    /// The type of a flow that replaces one of type `old`: a link from a message is opened
    /// by a browser (a GET), which gets a browser flow bound to its cookie even when the
    /// first flow was an api flow (Kratos's `FromOldFlow`); a native client's submission
    /// keeps its api flow.
    pub fn replacement_type(&self, old: super::FlowType) -> super::FlowType {
        if self.is_get {
            super::FlowType::Browser
        } else {
            old
        }
    }

    pub fn csrf_for(&self, flow_type: super::FlowType, fallback: &str) -> String {
        match (&self.csrf_cookie, flow_type) {
            (_, super::FlowType::Api) => String::new(),
            (Some(token), _) => token.clone(),
            (None, _) => fallback.to_owned(),
        }
    }
}

/// What gave a request away as a browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserSignal {
    Origin,
    Cookie,
}

impl BrowserSignal {
    /// Kratos's 400 reason, shown as message 4000001 on the flow.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Origin => {
                r#"The HTTP Request Header included the "Origin" key, indicating that this request was made as part of an AJAX request in a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation."#
            }
            Self::Cookie => {
                r#"The HTTP Request Header included the "Cookie" key, indicating that this request was made by a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation."#
            }
        }
    }
}

/// A submission: the fields every flow knows, and the method's own fields, parsed by the
/// strategy's type `M` (a `method`-tagged enum per flow). A method that cannot be parsed is
/// kept as the message to show on the flow, after the prelude has run.
pub struct Submission<M> {
    pub csrf_token: Option<String>,
    pub transient_payload: Option<Value>,
    pub method: Result<M, MethodError>,
}

impl<M> fmt::Debug for Submission<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission")
            .field("has_csrf_token", &self.csrf_token.is_some())
            .field("method_ok", &self.method.is_ok())
            .finish_non_exhaustive()
    }
}

/// Why the method's fields could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodError {
    /// No method this flow offers was named (Kratos: "could not find a strategy").
    NoStrategy,
    /// `method` names something this flow does not know: `value must be one of ...`.
    Unknown(&'static str),
    /// The body could not be decoded (malformed JSON, an unsupported content type): the
    /// flow shows the reason as 4000001 and answers 400, as Kratos's decoder errors do.
    Malformed(String),
}

/// A flow's submission type: built from the method name and the remaining fields.
pub trait ParseMethod: Sized {
    fn parse(method: Option<&str>, fields: Map<String, Value>) -> Result<Self, MethodError>;
}

impl<M> Submission<M> {
    /// A body that could not be decoded: no fields, only the reason.
    pub fn malformed(reason: impl Into<String>) -> Self {
        Self {
            csrf_token: None,
            transient_payload: None,
            method: Err(MethodError::Malformed(reason.into())),
        }
    }
}

impl<M: ParseMethod> Submission<M> {
    /// Splits decoded fields (body and query merged) into the common fields and the method's.
    pub fn from_fields(mut fields: Map<String, Value>) -> Self {
        // No database stores a NUL in text (Postgres refuses it), and no field needs one.
        if fields.values().any(holds_nul) {
            return Self::malformed("a field holds a NUL character, which no field may hold");
        }
        let csrf_token = take_string(&mut fields, "csrf_token");
        let transient_payload = fields.remove("transient_payload").filter(|v| !v.is_null());
        let method = take_string(&mut fields, "method").filter(|m| !m.is_empty());
        Self {
            csrf_token,
            transient_payload,
            method: M::parse(method.as_deref(), fields),
        }
    }
}

fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Removes `key` and returns it as a string (numbers are taken as their digits, as Kratos's
/// form decoder does).
pub fn take_string(fields: &mut Map<String, Value>, key: &str) -> Option<String> {
    match fields.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A secret submitted in a form, kept out of `Debug`.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Secret {
    pub fn take(fields: &mut Map<String, Value>, key: &str) -> Option<Self> {
        take_string(fields, key).map(Self)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}
