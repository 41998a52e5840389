//! The one error type of every flow. Form problems are not errors: they are shown on the flow
//! (`Outcome::Show`). These are the answers that leave the flow: refusals Kratos sends as
//! error envelopes (and to `error.ui_url` for browsers), redirects a browser must follow, and
//! failures of the server itself.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::model::FlowKind;
use super::return_to::ReturnToForbidden;
use crate::courier::CourierError;
use crate::hash::HashError;
use crate::persistence::StoreError;

#[derive(thiserror::Error)]
pub enum FlowError {
    /// The flow kind or its method is switched off (`self_service_flow_disabled` for the form
    /// flows, a plain 400 for verification, as Kratos answers).
    #[error("{reason}")]
    Disabled {
        kind: FlowKind,
        reason: &'static str,
    },
    /// No flow of this kind has this id.
    #[error("The {} request could not be found. Please restart the flow.", .0.as_str())]
    NotFound(FlowKind),
    /// The `flow` query parameter is missing or not a UUID.
    #[error("The flow query parameter is missing or malformed.")]
    MalformedId,
    /// The flow read has expired (410; the body depends on the kind).
    #[error("the flow expired")]
    Expired(Box<super::model::Flow>),
    #[error(transparent)]
    ReturnTo(#[from] ReturnToForbidden),
    #[error("the CSRF token is missing or does not match: {0}")]
    Csrf(&'static str),
    #[error("too many requests")]
    RateLimited(Duration),
    /// The password hasher is at capacity: 503 with `Retry-After`, never a queue.
    #[error("the password hasher is busy")]
    Overloaded,
    #[error("a session is already available")]
    SessionAlreadyAvailable,
    /// No session where one is needed; a browser signs in and comes back to `back`.
    #[error("no active session")]
    NoSession { back: Option<String> },
    #[error("the flow belongs to another identity")]
    IdentityMismatch,
    #[error("a recent login is required")]
    RefreshRequired { login_url: String },
    #[error("the identity has no verified address")]
    VerifiedAddressRequired {
        continue_with: Value,
        location: String,
    },
    #[error(
        "A misconfiguration prevents login. Expected to find a verification address but this identity does not have one assigned."
    )]
    NoVerifiableAddress,
    /// The browser must go to another site (a social sign-in provider): 303 for form posts,
    /// 422 `browser_location_change_required` for SPAs.
    #[error("the browser must be redirected")]
    BrowserLocationChange(String),
    /// A request the flow cannot take (a malformed social sign-in answer, ...): 400 with this
    /// fixed text.
    #[error("{0}")]
    BadRequest(String),
    /// The database cannot be reached: 503, and the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Anything else: logged with its cause, answered 500 with a fixed text.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl FlowError {
    pub fn unexpected(what: impl fmt::Display) -> Self {
        Self::Unexpected(anyhow::anyhow!("{what}"))
    }
}

impl fmt::Debug for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            write!(f, "\n  caused by: {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(e),
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<crate::service::ServiceError> for FlowError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match e {
            E::Unavailable(store) => Self::Unavailable(store),
            E::Unexpected(store) => Self::Unexpected(store.into()),
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<HashError> for FlowError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Overloaded,
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<CourierError> for FlowError {
    fn from(e: CourierError) -> Self {
        Self::Unexpected(anyhow::Error::new(e).context("composing a message failed"))
    }
}

impl From<super::model::IllegalTransition> for FlowError {
    fn from(e: super::model::IllegalTransition) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<crate::identity::IdentityError> for FlowError {
    fn from(e: crate::identity::IdentityError) -> Self {
        use crate::identity::IdentityError as E;
        match e {
            E::Hash(h) => h.into(),
            E::Store(s) => s.into(),
            other => Self::Unexpected(other.into()),
        }
    }
}

/// A flow id from the query: `MalformedId` when missing or not a UUID.
pub fn parse_flow_id(raw: Option<&str>) -> Result<Uuid, FlowError> {
    raw.and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(FlowError::MalformedId)
}
