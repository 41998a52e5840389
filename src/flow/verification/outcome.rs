//! What a verification step ends in; `http/` turns it into JSON or a redirect.

use chrono::{DateTime, Utc};

use super::VerificationFlow;
use crate::courier::CourierError;
use crate::flow::return_to::ReturnToForbidden;
use crate::persistence::StoreError;

#[derive(Debug)]
pub enum Outcome {
    /// The flow after a step. A JSON client gets `status` (200, or 400 for a form error);
    /// a browser is redirected to the UI.
    Show { flow: VerificationFlow, status: u16 },
    /// The flow was replaced by a new one (too many attempts, used code, too many sends).
    Replaced { new: VerificationFlow },
    /// The flow had already passed its challenge; a new one replaces it. JSON clients get
    /// 410 `self_service_flow_replaced` ("please use the new flow"), browsers a redirect.
    Completed { new: VerificationFlow },
    /// The link strategy's replacement flow: always a redirect (never 410), to the UI for
    /// browser flows and to the flow's JSON for api flows.
    Restarted { new: VerificationFlow },
    /// The code had expired: a new flow; JSON clients get 410 `self_service_flow_expired`.
    CodeExpired {
        new: VerificationFlow,
        expired_at: DateTime<Utc>,
    },
    /// The flow itself had expired before the submission: a new flow of the same type.
    FlowExpired { new: VerificationFlow },
    /// A link from a message was opened (`?code=` prefill or a bad `?token=`): always a
    /// redirect to the UI, never JSON.
    LinkRedirect { flow: VerificationFlow },
}

#[derive(Debug, thiserror::Error)]
pub enum VerificationError {
    #[error("Verification is not allowed because it was disabled.")]
    Disabled,
    #[error(
        "The active verification strategy {0} is not enabled. Please enable it in the configuration."
    )]
    StrategyDisabled(&'static str),
    #[error("The verification request could not be found. Please restart the flow.")]
    NotFound,
    #[error(transparent)]
    ReturnTo(#[from] ReturnToForbidden),
    #[error("the CSRF token is missing or does not match: {0}")]
    Csrf(&'static str),
    #[error("too many requests")]
    RateLimited(std::time::Duration),
    #[error("the courier could not prepare the message")]
    Courier(#[from] CourierError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
