//! The delivery choke point: every message that carries a code, a link or an address notice
//! (the verification and recovery forms, sign-up, sign-in of an unverified account, settings
//! changes, notices to a removed address) is admitted here first, so one set of send limits
//! holds whichever path asks: per client IP, and per address over 10 minutes and a day.
//!
//! The limits are keyed by the submitted, normalised address, known or not, so they reveal
//! nothing about accounts. What a limited send answers is the caller's choice: a form a
//! person submitted says 429; a send a flow triggers on its own (sign-in, settings) is
//! skipped and the flow answers as it otherwise would.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::persistence::StoreError;
use crate::ratelimit::{RateLimiter, Rule};
use crate::schema::Via;

/// Who a message would go to.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub via: Via,
    /// Normalised (lower-cased email, E.164 phone).
    pub address: &'a str,
}

/// Whether a message may go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Send,
    /// A limit is reached; nothing may be sent before `retry_after`.
    Limited {
        retry_after: Duration,
    },
}

impl Admission {
    pub fn is_send(&self) -> bool {
        matches!(self, Self::Send)
    }
}

#[derive(Clone, Debug)]
pub struct Delivery {
    limiter: RateLimiter,
}

/// The per-address rules, in the order they are counted.
const PER_ADDRESS: [Rule; 2] = [
    Rule::VerificationSendPerAddressShort,
    Rule::VerificationSendPerAddressDay,
];

impl Delivery {
    pub fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }

    /// Counts one send to `to` (and, when known, from `client`) against the send limits.
    /// Every rule is counted up to the first that refuses, so a refused send still uses the
    /// budget it was refused by, as a sent one would.
    pub async fn admit(
        &self,
        to: Recipient<'_>,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let by_client = client.map(|c| (Rule::SendPerIp, c));
        let by_address = PER_ADDRESS.iter().map(|r| (*r, to.address));
        for (rule, subject) in by_client.into_iter().chain(by_address) {
            if let Err(limited) = self.limiter.hit(rule, subject, now).await? {
                tracing::info!(
                    rule = rule.id(),
                    via = to.via.as_str(),
                    "a message was held back by a send limit"
                );
                return Ok(Admission::Limited {
                    retry_after: limited.retry_after,
                });
            }
        }
        Ok(Admission::Send)
    }
}
