//! What a flow step ends in; `http/` turns it into JSON or a redirect.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::Flow;
use crate::identity::Identity;
use crate::session::Issued;

#[derive(Debug)]
pub enum Outcome {
    /// The flow after a step. A JSON client gets `status` (200, or 400 for a form error); a
    /// browser is redirected to the flow's UI.
    Show { flow: Flow, status: u16 },
    /// A new flow replaces the submitted one, for the reason given.
    Replaced { new: Flow, why: Replacement },
    /// A link from a message was opened (a `?code=` prefill, a link token): always a
    /// redirect to the UI, and the flow's JSON only to a JSON client once it has passed.
    LinkRedirect { flow: Flow },
    /// Finished: what the flow made (identity, session, follow-up flows) and where a browser
    /// goes next.
    Done(Box<Done>),
}

/// Why a flow was replaced; it picks the JSON answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The flow had expired before the submission (JSON: 410 with `use_flow_id`; verification:
    /// a redirect to the new flow, as Kratos answers).
    FlowExpired { expired_at: DateTime<Utc> },
    /// The code had expired (410 `self_service_flow_expired`).
    CodeExpired { expired_at: DateTime<Utc> },
    /// Too many attempts, a used code, no sends left, a failing hook (410 "please retry").
    Retry,
    /// The flow had already passed its challenge (410 "please use the new flow").
    AlreadyDone,
    /// The link strategy's replacement: a redirect to the new flow, never 410.
    LinkRestart,
}

#[derive(Debug)]
pub struct Done {
    pub flow: Flow,
    pub identity: Identity,
    /// A new session (its cookie is set for browser flows, its token shown to api flows).
    pub session: Option<Issued>,
    pub continue_with: Vec<Value>,
    /// Where a browser goes next.
    pub redirect: String,
    /// What a JSON client gets: the session answer of login and registration, or the flow.
    pub body: DoneBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneBody {
    /// `{session, identity, session_token?, continue_with?}` (login, registration).
    Session,
    /// The flow itself with `continue_with` (settings, recovery).
    Flow,
}

/// What a strategy's step gives its flow: go on with `T`, or answer now.
#[derive(Debug)]
pub enum Step<T> {
    Proceed(T),
    Answer(Box<Outcome>),
}
