//! What a flow does with a code use: one mapping for every flow that takes codes or links
//! (verification, recovery, sign-in by code), so each says only what is its own (its texts,
//! its success).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::flow::core::Replacement;
use crate::persistence::challenges::CodeUse;
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
    /// No challenge matched: the flow again with its "invalid code" message (the attempt
    /// was counted).
    Wrong,
    /// The flow passed its challenge meanwhile (a concurrent submission won).
    Completed,
    /// The flow is replaced by a new one showing this message, for this reason.
    Replace(Text, Replacement),
}

/// Sorts a code use into its success and the endings every flow shares; `expired` words the
/// flow's own "code expired" message.
pub fn settle(used: CodeUse, expired: impl FnOnce(DateTime<Utc>) -> Text) -> Result<Proved, Miss> {
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
        CodeUse::NoMatch => Miss::Wrong,
        CodeUse::Completed => Miss::Completed,
        CodeUse::Expired { expired_at } => {
            let why = Replacement::CodeExpired { expired_at };
            Miss::Replace(expired(expired_at), why)
        }
        CodeUse::TooManyAttempts => Miss::Replace(text::submitted_too_often(), Replacement::Retry),
        CodeUse::AlreadyUsed => Miss::Replace(text::code_already_used(), Replacement::Retry),
    })
}
