//! Database-backed rate limits, shared by every replica.
//!
//! Design choices, and why:
//! - **Fixed windows.** One row per (rule, subject, window), bumped by one atomic upsert, so a
//!   hit costs a single statement and stays exact under concurrency. The price is the usual
//!   boundary burst: up to 2× the limit across the end of one window and the start of the next.
//!   For the tightest budget (20 wrong codes per address per day) that is 40 guesses against
//!   10^6 codes, still far under NIST 800-63B 5.2.2's 100.
//! - **Per-subject window phase.** Each key's windows are shifted by an offset taken from its
//!   MAC, so all daily windows do not reset at midnight UTC together (no herd of retries, purge
//!   load spread out). The offset depends only on the submitted subject, never on whether an
//!   account exists, so `Retry-After` leaks nothing.
//! - **No PII at rest.** Keys are `<rule>:<HMAC(rule, subject)>` under the first secret of the
//!   keyring. Rotating that secret restarts every counter, which is acceptable for windows of
//!   at most a day; a random keyring (no secret configured) also means per-process counters.
//! - **One statement per request.** `hit_many` and `Batch` bump every counter a request
//!   touches in one multi-row upsert, written in key order so overlapping batches cannot
//!   deadlock on Postgres.
//! - **Trips are visible.** Every over-limit answer writes an audit line (`rate_limited`,
//!   subject as a keyed hash) and counts `verity_ratelimit_trips_total{rule}`.
//! - **Fail closed.** A database error is returned, never treated as "allowed"; callers answer
//!   503 (ASVS 5.0 16.5.3).
//!
//! Callers pass subjects in normalised form (lower-cased email, E.164 phone, `ip_subject`) and
//! key by the *submitted* address or identifier, not by identity id, so known and unknown
//! accounts are limited alike.

mod batch;
mod config;
pub mod lockout;
mod rule;

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

pub use batch::Batch;
pub use config::RateLimitsConfig;
pub use rule::Rule;

use crate::audit::{Actor, AuditEvent};
use crate::crypto::{Keyring, hex};
use crate::persistence::{Store, StoreError};

/// Every this many hits (per process) expired counters are deleted, inline; the courier
/// worker may also call `purge` on its own schedule.
const PURGE_EVERY: u64 = 100;
const MAC_PURPOSE: &str = "rate-limit";

/// The limit of `rule` is reached; try again after `retry_after` (whole seconds, at least 1 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
    pub rule: Rule,
}

#[derive(Clone, Debug)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    keys: Keyring,
    cfg: RateLimitsConfig,
    hits: AtomicU64,
}

/// Where one (rule, subject) pair counts at a given instant.
#[derive(Debug, PartialEq, Eq)]
struct Slot {
    key: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl RateLimiter {
    pub fn new(store: Store, keys: Keyring, cfg: RateLimitsConfig) -> Self {
        let hits = AtomicU64::new(0);
        Self {
            inner: Arc::new(Inner {
                store,
                keys,
                cfg,
                hits,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.cfg.enabled
    }

    pub fn config(&self) -> &RateLimitsConfig {
        &self.inner.cfg
    }

    /// Counts one hit of `rule` for `subject` (an address, IP key or account identifier) and
    /// says whether it is over the limit: the (limit+1)th hit in a window is `Limited`.
    /// A database failure is `Err`, never a silent pass; answer 503. With `enabled: false`
    /// (or a limit of 0) this answers `Ok(Ok(()))` without touching the database, so callers
    /// need no `Option<RateLimiter>`.
    pub async fn hit(
        &self,
        rule: Rule,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, StoreError> {
        self.batch(now).rule(rule, subject).hit().await
    }

    /// Counts one hit of every `(rule, subject)` in ONE database statement and answers the
    /// first rule, in the order given, that is over its limit. Every rule is counted, even
    /// after one trips, as separate `hit` calls in a row would not be.
    pub async fn hit_many(
        &self,
        hits: &[(Rule, &str)],
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, StoreError> {
        hits.iter()
            .fold(self.batch(now), |b, (rule, subject)| b.rule(*rule, subject))
            .hit()
            .await
    }

    /// A batch of hits to count in one statement, for rules with configured limits
    /// (`Batch::rule`) and budgets with limits of their own (`Batch::budget`).
    pub fn batch(&self, now: DateTime<Utc>) -> Batch<'_> {
        Batch::new(self, now)
    }

    /// Checks without counting: `Limited` once the window already holds `limit` hits. Used
    /// before work whose failure is counted afterwards (a code is checked, then a wrong one is
    /// `hit`). Not atomic with that later `hit`: concurrent requests can overshoot by their
    /// number, which the per-code atomic submit counter bounds.
    pub async fn check(
        &self,
        rule: Rule,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, StoreError> {
        let Some((limit, slot)) = self.slot(rule, subject, now) else {
            return Ok(Ok(()));
        };
        let count = self
            .inner
            .store
            .peek_rate_limit(&slot.key, slot.start)
            .await?;
        if count < limit {
            return Ok(Ok(()));
        }
        Ok(Err(tripped(rule, subject, &slot, now)))
    }

    /// Deletes counters whose window has ended; for a periodic job such as the courier loop.
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.store.purge_rate_limits(now).await
    }

    async fn maybe_purge(&self, now: DateTime<Utc>) {
        let n = self.inner.hits.fetch_add(1, Ordering::Relaxed);
        if n % PURGE_EVERY != PURGE_EVERY - 1 {
            return;
        }
        // Housekeeping must not turn an allowed request into an error.
        match self.purge(now).await {
            Ok(deleted) => tracing::debug!(deleted, "purged expired rate-limit counters"),
            Err(e) => tracing::warn!(error = %e, "purging rate-limit counters failed"),
        }
    }

    /// The limit and the slot, or `None` when limiting is off for this rule.
    fn slot(&self, rule: Rule, subject: &str, now: DateTime<Utc>) -> Option<(i64, Slot)> {
        let limit = rule.limit(&self.inner.cfg);
        if !self.enabled() || limit == 0 {
            return None;
        }
        Some((i64::from(limit), slot(&self.inner.keys, rule, subject, now)))
    }
}

/// A trip: the audit line (subject only as a keyed hash), the metric, and the answer.
fn tripped(rule: Rule, subject: &str, slot: &Slot, now: DateTime<Utc>) -> Limited {
    crate::audit::event(AuditEvent::RateLimited {
        rule: rule.id(),
        actor: Actor {
            subject: Some(subject),
            ..Actor::default()
        },
    });
    metrics::counter!("verity_ratelimit_trips_total", "rule" => rule.id()).increment(1);
    Limited {
        retry_after: retry_after(slot.end, now),
        rule,
    }
}

fn slot(keys: &Keyring, rule: Rule, subject: &str, now: DateTime<Utc>) -> Slot {
    let mut data = Vec::with_capacity(rule.id().len() + 1 + subject.len());
    data.extend_from_slice(rule.id().as_bytes());
    data.push(0);
    data.extend_from_slice(subject.as_bytes());
    let mac = keys.sign(MAC_PURPOSE, &data);
    let len = rule.window_secs();
    let phase = u64::from_be_bytes(mac[..8].try_into().unwrap_or_default()) % len as u64;
    let (start, end) = window(now, len, phase as i64);
    Slot {
        key: format!("{}:{}", rule.id(), hex(&mac)),
        start,
        end,
    }
}

/// The window of length `len` seconds, shifted by `phase` seconds, that contains `now`.
/// Both ends fall on whole seconds, so equal windows encode to equal database values.
fn window(now: DateTime<Utc>, len: i64, phase: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = phase + (now.timestamp() - phase).div_euclid(len) * len;
    let at = |secs| Utc.timestamp_opt(secs, 0).single().unwrap_or(now);
    (at(start), at(start + len))
}

/// Whole seconds until `end`, rounded up so a client never retries too early; at least 1 s.
fn retry_after(end: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let millis = (end - now).num_milliseconds().max(0) as u64;
    Duration::from_secs(millis.div_ceil(1000).max(1))
}

/// The key for an IP: IPv4 as /32, IPv6 as its /64 prefix (one customer LAN usually holds a
/// whole /64, so per-address keys would be free to rotate). IPv4-mapped IPv6 counts as IPv4.
pub fn ip_subject(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests;
