//! Which numbers may be sent an SMS or a voice call, and how many per day (`protection.sms`).
//!
//! Toll fraud and SMS pumping make an identity server text numbers whose operators share
//! the fee: premium-rate and shared-cost ranges, satellite and international-network codes,
//! and long runs of sequential numbers in one range. The policy refuses those number types
//! and codes outright, without I/O (`check`), and caps what is sent per number range, per
//! country and in total per day in the rate-limit table (`caps`, `admit`).
//!
//! A refusal is answered to the caller, which decides what its client sees: a flow where
//! enumeration matters answers as if the message was sent; the partner API says why. Every
//! refusal writes a WARN line (no number in it), an audit event and counts
//! `verity_sms_refused_total{reason}`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use phonenumber::Type;

use crate::audit::{Actor, AuditEvent};
use crate::config::{NumberType, SmsPolicyConfig};
use crate::courier::Channel;
use crate::persistence::StoreError;
use crate::ratelimit::{Batch, Limited, RateLimiter, Rule};

/// Why a message was not sent: the `reason` label of `verity_sms_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsRefusal {
    /// Not a valid international number.
    Invalid,
    /// Under one of `denied_prefixes`.
    Prefix,
    /// A calling code of no country (satellite, international networks and premium rate).
    NonGeographic,
    /// A region outside `allowed_countries`.
    Country,
    /// A number type outside `allowed_number_types` (premium rate, shared cost, ...).
    NumberType,
    /// `daily_limit_per_range` reached.
    RangeCap,
    /// `daily_limit_per_country` (or the country's own cap) reached.
    CountryCap,
    /// `daily_limit_global` reached.
    GlobalCap,
}

impl SmsRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            SmsRefusal::Invalid => "invalid",
            SmsRefusal::Prefix => "prefix",
            SmsRefusal::NonGeographic => "non_geographic",
            SmsRefusal::Country => "country",
            SmsRefusal::NumberType => "number_type",
            SmsRefusal::RangeCap => "range_cap",
            SmsRefusal::CountryCap => "country_cap",
            SmsRefusal::GlobalCap => "global_cap",
        }
    }

    /// Caps pass with time; the other refusals are about the number itself.
    pub fn is_cap(self) -> bool {
        matches!(
            self,
            SmsRefusal::RangeCap | SmsRefusal::CountryCap | SmsRefusal::GlobalCap
        )
    }
}

/// A refused message; `retry_after` is set for caps (when the day's window ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub refusal: SmsRefusal,
    pub retry_after: Option<Duration>,
}

/// A number the static rules allow, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// E.164.
    pub number: String,
    /// ISO 3166-1 alpha-2 region, `None` for non-geographic calling codes.
    pub region: Option<String>,
    pub calling_code: u16,
    pub kind: NumberType,
}

impl Destination {
    /// The number range: all digits but the last three.
    pub fn range(&self) -> &str {
        &self.number[..self.number.len().saturating_sub(3).max(1)]
    }

    /// The per-country counter's subject: the region, or `+<code>` for non-geographic codes.
    pub fn country_key(&self) -> String {
        self.region
            .clone()
            .unwrap_or_else(|| format!("+{}", self.calling_code))
    }
}

#[derive(Clone, Debug)]
pub struct SmsPolicy {
    cfg: Arc<SmsPolicyConfig>,
    limiter: RateLimiter,
}

impl SmsPolicy {
    /// Checks the config: regions must be ISO codes the metadata knows, prefixes `+` digits.
    pub fn new(cfg: &SmsPolicyConfig, limiter: RateLimiter) -> Result<Self, String> {
        const KEY: &str = "protection.sms";
        let known = |r: &String| r.parse::<phonenumber::country::Id>().is_ok();
        if let Some(bad) = cfg.allowed_countries.iter().find(|r| !known(r)) {
            return Err(format!(
                "{KEY}.allowed_countries: {bad:?} is not an ISO 3166-1 alpha-2 region such as GB"
            ));
        }
        if let Some(bad) = cfg.country_daily_limits.keys().find(|r| !known(r)) {
            return Err(format!(
                "{KEY}.country_daily_limits: {bad:?} is not an ISO 3166-1 alpha-2 region such as GB"
            ));
        }
        let prefix_ok = |p: &String| {
            p.strip_prefix('+').is_some_and(|d| {
                (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
            })
        };
        if let Some(bad) = cfg.denied_prefixes.iter().find(|p| !prefix_ok(p)) {
            return Err(format!(
                "{KEY}.denied_prefixes: {bad:?} is not an E.164 prefix such as +44909"
            ));
        }
        Ok(Self {
            cfg: Arc::new(cfg.clone()),
            limiter,
        })
    }

    /// The static rules, without I/O. A refusal is logged and counted here.
    pub fn check(&self, channel: Channel, number: &str) -> Result<Destination, Refused> {
        classify(&self.cfg, number).map_err(|refusal| {
            report(channel, refusal, None, Some(number));
            Refused {
                refusal,
                retry_after: None,
            }
        })
    }

    /// Adds the day's caps for `dest` to `batch`, so that they are counted in the caller's
    /// one statement with its own rules. Read a `Limited` answer with `cap_refusal`.
    pub fn caps<'l>(&self, dest: &Destination, batch: Batch<'l>) -> Batch<'l> {
        let country = dest.country_key();
        let per_country = self
            .cfg
            .country_daily_limits
            .get(&country)
            .copied()
            .unwrap_or(self.cfg.daily_limit_per_country);
        batch
            .budget(
                Rule::SmsPerRangeDay,
                dest.range(),
                self.cfg.daily_limit_per_range,
            )
            .budget(Rule::SmsPerCountryDay, &country, per_country)
            .budget(Rule::SmsGlobalDay, "all", self.cfg.daily_limit_global)
    }

    /// `Some` (logged and counted) when `limited` is one of the policy's caps; `None` when it
    /// is a rule of the caller's.
    pub fn cap_refusal(
        &self,
        channel: Channel,
        dest: &Destination,
        limited: &Limited,
    ) -> Option<Refused> {
        let refusal = match limited.rule {
            Rule::SmsPerRangeDay => SmsRefusal::RangeCap,
            Rule::SmsPerCountryDay => SmsRefusal::CountryCap,
            Rule::SmsGlobalDay => SmsRefusal::GlobalCap,
            _ => return None,
        };
        report(channel, refusal, Some(dest), Some(&dest.number));
        Some(Refused {
            refusal,
            retry_after: Some(limited.retry_after),
        })
    }

    /// The whole policy in one call: the static rules, then the caps counted in one
    /// statement (one send counted when allowed). `Ok(Err(_))` is a refusal, already logged.
    pub async fn admit(
        &self,
        channel: Channel,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Destination, Refused>, StoreError> {
        let dest = match self.check(channel, number) {
            Ok(d) => d,
            Err(r) => return Ok(Err(r)),
        };
        match self.caps(&dest, self.limiter.batch(now)).hit().await? {
            Ok(()) => Ok(Ok(dest)),
            Err(limited) => Ok(Err(self.cap_refusal(channel, &dest, &limited).unwrap_or(
                Refused {
                    refusal: SmsRefusal::GlobalCap,
                    retry_after: Some(limited.retry_after),
                },
            ))),
        }
    }
}

/// The static rules in order: valid, not denied, geographic, allowed country, allowed type.
pub(crate) fn classify(cfg: &SmsPolicyConfig, number: &str) -> Result<Destination, SmsRefusal> {
    let e164 = crate::schema::normalize_phone(number).map_err(|_| SmsRefusal::Invalid)?;
    if cfg.denied_prefixes.iter().any(|p| e164.starts_with(p)) {
        return Err(SmsRefusal::Prefix);
    }
    let parsed = phonenumber::parse(None, &e164).map_err(|_| SmsRefusal::Invalid)?;
    let region = parsed.country().id().map(|id| id.as_ref().to_owned());
    if region.is_none() && !cfg.allow_non_geographic {
        return Err(SmsRefusal::NonGeographic);
    }
    if !cfg.allowed_countries.is_empty()
        && !region
            .as_ref()
            .is_some_and(|r| cfg.allowed_countries.contains(r))
    {
        return Err(SmsRefusal::Country);
    }
    let kind = number_type(parsed.number_type(&phonenumber::metadata::DATABASE));
    if !cfg.allowed_number_types.contains(&kind) {
        return Err(SmsRefusal::NumberType);
    }
    Ok(Destination {
        number: e164,
        region,
        calling_code: parsed.country().code(),
        kind,
    })
}

fn number_type(t: Type) -> NumberType {
    match t {
        Type::FixedLine => NumberType::FixedLine,
        Type::Mobile => NumberType::Mobile,
        Type::FixedLineOrMobile => NumberType::FixedLineOrMobile,
        Type::TollFree => NumberType::TollFree,
        Type::PremiumRate => NumberType::PremiumRate,
        Type::SharedCost => NumberType::SharedCost,
        Type::PersonalNumber => NumberType::PersonalNumber,
        Type::Voip => NumberType::Voip,
        Type::Pager => NumberType::Pager,
        Type::Uan => NumberType::Uan,
        Type::Emergency => NumberType::Emergency,
        Type::Voicemail => NumberType::Voicemail,
        Type::ShortCode => NumberType::ShortCode,
        Type::StandardRate => NumberType::StandardRate,
        Type::Carrier => NumberType::Carrier,
        Type::NoInternational => NumberType::NoInternational,
        Type::Unknown => NumberType::Unknown,
    }
}

/// The WARN line, the audit event and the metric of one refusal. The number is never
/// written; the audit line carries its keyed hash.
fn report(channel: Channel, refusal: SmsRefusal, dest: Option<&Destination>, number: Option<&str>) {
    let reason = refusal.reason();
    tracing::warn!(
        reason,
        channel = channel.as_str(),
        region = dest.and_then(|d| d.region.as_deref()),
        "message refused by the SMS policy (protection.sms)"
    );
    crate::audit::event(AuditEvent::SmsRefused {
        reason,
        actor: Actor {
            subject: number,
            ..Actor::default()
        },
    });
    metrics::counter!("verity_sms_refused_total", "reason" => reason).increment(1);
}

#[cfg(test)]
#[path = "sms_policy_tests.rs"]
mod tests;
