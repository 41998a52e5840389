//! What a flow does with a code use: one mapping for every flow that takes codes or links
//! (verification, recovery, sign-in by code), so each says only what is its own (its texts,
//! its success).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::flow::core::{Flow, FlowError, FlowService, Outcome, Replacement, Request};
use crate::persistence::challenges::{CodeUse, SendResult};
use crate::text::{self, Text};

/// A code that proved its address.
#[derive(Debug, Clone, Copy)]
pub struct Proved {
    pub address_id: Option<Uuid>,
    pub identity_id: Option<Uuid>,
}

/// A code that did not.
#[derive(Debug)]
pub enum Miss {
    /// No challenge matched: the flow again with its "invalid code" message, as saved (the
    /// attempt was counted).
    Wrong(Box<Flow>),
    /// The flow passed its challenge meanwhile (a concurrent submission won).
    Completed,
    /// The flow is replaced by a new one showing this message, for this reason.
    Replace(Text, Replacement),
}

/// Sorts a code use into its success and the endings every flow shares; `expired` words the
/// flow's own "code expired" message, `wrong` makes the flow a wrong code leaves (called only
/// then).
pub(super) fn settle(
    used: CodeUse,
    expired: impl FnOnce(DateTime<Utc>) -> Text,
    wrong: impl FnOnce() -> Flow,
) -> Result<Proved, Miss> {
    Err(match used {
        CodeUse::Verified {
            address_id,
            identity_id,
            ..
        } => {
            return Ok(Proved {
                address_id,
                identity_id,
            });
        }
        CodeUse::NoMatch => Miss::Wrong(Box::new(wrong())),
        CodeUse::Completed => Miss::Completed,
        CodeUse::Expired { expired_at } => {
            let why = Replacement::CodeExpired { expired_at };
            Miss::Replace(expired(expired_at), why)
        }
        CodeUse::TooManyAttempts => Miss::Replace(text::submitted_too_often(), Replacement::Retry),
        CodeUse::AlreadyUsed => Miss::Replace(text::code_already_used(), Replacement::Retry),
    })
}

/// A flow kind that sends codes (or links) and takes them back: verification and recovery.
/// It says how it words "already done" and "link no longer valid"; the endings of a send, of
/// a missed code and of a submission to a finished flow are the same for both and written
/// here once, on [`FlowService::replace`].
#[allow(async_fn_in_trait)]
pub trait CodeFlow: FlowService {
    /// "This flow is already done", in the kind's words.
    fn already_done(&self) -> Text;

    /// "This link is no longer valid", in the kind's words.
    fn token_invalid(&self) -> Text;

    /// What a submission to a flow that passed its challenge answers. Kratos's link strategy
    /// tries a token before looking at the state: a token for a finished flow is simply no
    /// longer valid (a new flow, by redirect). Otherwise a new flow says "already done".
    async fn finished(
        &self,
        flow: Flow,
        with_token: bool,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        if with_token {
            let new = self.renew(&flow, req, self.token_invalid(), now).await?;
            return Ok(Outcome::LinkRedirect { flow: new });
        }
        let why = match flow.active {
            Some(crate::flow::core::Method::Link) => Replacement::LinkRestart,
            _ => Replacement::AlreadyDone,
        };
        self.replace(&flow, req, self.already_done(), why, now)
            .await
    }

    /// What a stored send answers: the flow with its code sent, or a new flow when this one
    /// used its sends or was finished meanwhile.
    async fn sent(
        &self,
        mut flow: Flow,
        result: SendResult,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        match result {
            SendResult::Sent => {
                flow.challenge.send_count += 1;
                Ok(Outcome::Show { flow, status: 200 })
            }
            SendResult::AlreadyPassed => {
                let message = self.already_done();
                self.replace(&flow, req, message, Replacement::AlreadyDone, now)
                    .await
            }
            SendResult::SendsUsedUp => {
                let message = text::too_many_sends();
                self.replace(&flow, req, message, Replacement::Retry, now)
                    .await
            }
        }
    }

    /// What a code that proved nothing answers: the wrong code's flow (with its "invalid
    /// code" message) again, or `flow` replaced.
    async fn missed(
        &self,
        flow: &Flow,
        miss: Miss,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        match miss {
            Miss::Wrong(wrong) => Ok(Outcome::Show {
                flow: *wrong,
                status: 200,
            }),
            Miss::Completed => {
                let message = self.already_done();
                self.replace(flow, req, message, Replacement::AlreadyDone, now)
                    .await
            }
            Miss::Replace(message, why) => self.replace(flow, req, message, why, now).await,
        }
    }
}
