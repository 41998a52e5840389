//! Several counters bumped by one statement: the rules a request is subject to, and budgets
//! whose limits come from elsewhere (the SMS policy's daily caps).

use chrono::{DateTime, Utc};

use super::{Limited, RateLimiter, Rule, Slot, slot, tripped};
use crate::persistence::{CounterHit, StoreError};

/// Built by `RateLimiter::batch`; `hit` counts everything added in one database statement.
#[derive(Debug)]
#[must_use = "a batch counts nothing until `hit` is awaited"]
pub struct Batch<'l> {
    limiter: &'l RateLimiter,
    now: DateTime<Utc>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    rule: Rule,
    subject: String,
    limit: i64,
    slot: Slot,
}

impl<'l> Batch<'l> {
    pub(super) fn new(limiter: &'l RateLimiter, now: DateTime<Utc>) -> Self {
        Self {
            limiter,
            now,
            entries: Vec::new(),
        }
    }

    /// Adds `rule` with its `selfservice.rate_limits` limit; nothing when limiting is off
    /// (`enabled: false`) or the limit is 0.
    pub fn rule(mut self, rule: Rule, subject: &str) -> Self {
        if self.limiter.enabled() {
            self.push(rule, subject, rule.limit(&self.limiter.inner.cfg));
        }
        self
    }

    /// Adds a budget with its own `limit` (0 = none). Budgets are spending caps, not
    /// throttles: they hold even when `selfservice.rate_limits.enabled` is false.
    pub fn budget(mut self, rule: Rule, subject: &str, limit: u32) -> Self {
        self.push(rule, subject, limit);
        self
    }

    fn push(&mut self, rule: Rule, subject: &str, limit: u32) {
        if limit == 0 {
            return;
        }
        let slot = slot(&self.limiter.inner.keys, rule, subject, self.now);
        self.entries.push(Entry {
            rule,
            subject: subject.to_owned(),
            limit: i64::from(limit),
            slot,
        });
    }

    /// Counts one hit of every entry in one statement (none when the batch is empty) and
    /// answers the first entry, in the order added, that is over its limit. Every entry over
    /// its limit is reported as a trip.
    pub async fn hit(self) -> Result<Result<(), Limited>, StoreError> {
        if self.entries.is_empty() {
            return Ok(Ok(()));
        }
        let counters: Vec<CounterHit<'_>> = self
            .entries
            .iter()
            .map(|e| CounterHit {
                key: &e.slot.key,
                window_start: e.slot.start,
                expires_at: e.slot.end,
            })
            .collect();
        let counts = self.limiter.inner.store.hit_rate_limits(&counters).await?;
        self.limiter.maybe_purge(self.now).await;
        let mut first = None;
        for e in &self.entries {
            let count = counts
                .binary_search_by(|(k, _)| k.as_str().cmp(&e.slot.key))
                .map_or(0, |i| counts[i].1);
            if count > e.limit {
                let limited = tripped(e.rule, &e.subject, &e.slot, self.now);
                first.get_or_insert(limited);
            }
        }
        Ok(first.map_or(Ok(()), Err))
    }
}
