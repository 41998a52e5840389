//! The delivery choke point: every message that carries a code, a link or an address notice
//! (the verification and recovery forms, sign-up, sign-in of an unverified account, settings
//! changes, notices to a removed address) is admitted here first, so one set of send limits
//! holds whichever path asks: per client IP, and per address over 10 minutes and a day.
//!
//! The limits are keyed by the submitted, normalised address, known or not, so they reveal
//! nothing about accounts. What a limited send answers is the caller's choice: a form a
//! person submitted says 429; a send a flow triggers on its own (sign-in, settings) is
//! skipped and the flow answers as it otherwise would.

pub mod sms_policy;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::courier::Channel;
use crate::persistence::{OutboxMessage, StoreError};
use crate::ratelimit::{RateLimiter, Rule};
use crate::schema::Via;
use sms_policy::{SmsPolicy, SmsRefusal};

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
    /// A send limit is reached; nothing may be sent before `retry_after`.
    Limited {
        retry_after: Duration,
    },
    /// The SMS policy refuses the number (a premium-rate or satellite number, a country not
    /// served, a daily cap). Where enumeration matters the flow answers as if it was sent,
    /// and nothing goes out.
    Refused(SmsRefusal),
}

impl Admission {
    pub fn is_send(&self) -> bool {
        matches!(self, Self::Send)
    }
}

#[derive(Clone, Debug)]
pub struct Delivery {
    limiter: RateLimiter,
    sms: SmsPolicy,
}

impl Delivery {
    pub fn new(limiter: RateLimiter, sms: SmsPolicy) -> Self {
        Self { limiter, sms }
    }

    /// Counts one send to `to` (and, when known, from `client`) against the send limits and,
    /// for a phone number, the SMS policy's daily caps: all in one statement. A number the
    /// policy refuses outright is not counted at all.
    pub async fn admit(
        &self,
        to: Recipient<'_>,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let mut batch = self.limiter.batch(now);
        if let Some(c) = client {
            batch = batch.rule(Rule::SendPerIp, c);
        }
        batch = batch
            .rule(Rule::VerificationSendPerAddressShort, to.address)
            .rule(Rule::VerificationSendPerAddressDay, to.address);
        let dest = match to.via {
            Via::Sms => match self.sms.check(Channel::Sms, to.address) {
                Ok(d) => {
                    batch = self.sms.caps(&d, batch);
                    Some(d)
                }
                Err(refused) => return Ok(Admission::Refused(refused.refusal)),
            },
            Via::Email => None,
        };
        let Err(limited) = batch.hit().await? else {
            return Ok(Admission::Send);
        };
        if let Some(refused) = dest
            .as_ref()
            .and_then(|d| self.sms.cap_refusal(Channel::Sms, d, &limited))
        {
            return Ok(Admission::Refused(refused.refusal));
        }
        tracing::info!(
            rule = limited.rule.id(),
            via = to.via.as_str(),
            "a message was held back by a send limit"
        );
        Ok(Admission::Limited {
            retry_after: limited.retry_after,
        })
    }
}

/// `message` as a decoy: composed and sealed like a real message, stored `abandoned` and never
/// attempted, so that a send nobody is to get (an address with no account, a taken address at
/// sign-up, a number the SMS policy refuses) costs what a real send costs (SECURITY.md C3).
/// `why` is the reason operators see in the admin list.
pub fn as_decoy(mut message: OutboxMessage, why: &str) -> OutboxMessage {
    message.status = crate::persistence::MessageStatus::Abandoned;
    message.last_error = Some(format!("not sent: {why}"));
    message
}

/// The decoy reason for an address no account has.
pub fn no_account(why: &str) -> String {
    format!("no account has this address; {why}")
}
