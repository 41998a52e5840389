//! What every flow kind shares: the persisted flow and its states, the one error and outcome
//! types, the request facts and submission envelope, the shared dependencies, and the
//! generic create / read / submit steps with the submission prelude.

mod deps;
mod error;
pub mod hooks;
pub mod messages;
mod model;
mod outcome;
mod record;
mod request;
pub mod return_to;
mod service;
pub mod ui;

pub use deps::{DepsParts, FlowDeps, NewFlow};
pub use error::{FlowError, parse_flow_id};
pub use model::{
    Challenge, Flow, FlowKind, FlowType, IllegalTransition, Method, State, UNBOUND_BROWSER,
};
pub use outcome::{Done, DoneBody, Outcome, Replacement, Step};
pub use record::Flows;
pub use request::{
    BrowserSignal, MethodError, ParseMethod, Request, Secret, Submission, take_string,
};
pub use service::{
    Failure, FlowService, Init, SessionUse, already_finished, check_csrf, create, enforce, read,
    show_error, submit,
};
