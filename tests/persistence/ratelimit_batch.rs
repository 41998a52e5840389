//! Several counters in one statement (`hit_many`, `Batch`) and the SMS policy's daily caps,
//! which live in the same table.

use chrono::{DateTime, TimeZone, Utc};
use verity::config::SmsPolicyConfig;
use verity::courier::Channel;
use verity::crypto::Keyring;
use verity::delivery::sms_policy::{SmsPolicy, SmsRefusal};
use verity::persistence::{CounterHit, Store};
use verity::ratelimit::{RateLimiter, RateLimitsConfig, Rule};

crate::contract!(
    one_statement_counts_every_counter_and_returns_each_once,
    hit_many_counts_every_rule_and_answers_the_first_over,
    overlapping_batches_in_parallel_neither_deadlock_nor_lose_hits,
    budgets_hold_when_rate_limiting_is_off,
    sms_range_cap_stops_sequential_numbers,
    sms_country_and_global_caps,
);

const T0: i64 = 1_800_000_000;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap()
}

fn limiter(store: &Store, cfg: RateLimitsConfig) -> RateLimiter {
    RateLimiter::new(
        store.clone(),
        Keyring::new(&["contract-test-secret-0123"]),
        cfg,
    )
}

async fn one_statement_counts_every_counter_and_returns_each_once(store: &Store) {
    let (s, e) = (at(T0), at(T0 + 60));
    let hit = |key| CounterHit {
        key,
        window_start: s,
        expires_at: e,
    };
    let first = store
        .hit_rate_limits(&[hit("b"), hit("a"), hit("b")])
        .await
        .unwrap();
    assert_eq!(first, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    let second = store.hit_rate_limits(&[hit("a"), hit("c")]).await.unwrap();
    assert_eq!(second, [("a".to_owned(), 2), ("c".to_owned(), 1)]);
    assert!(store.hit_rate_limits(&[]).await.unwrap().is_empty());
    assert_eq!(store.peek_rate_limit("b", s).await.unwrap(), 1);
}

async fn hit_many_counts_every_rule_and_answers_the_first_over(store: &Store) {
    let cfg = RateLimitsConfig {
        phone_sends_per_key_minute: 2,
        phone_sends_per_number_10m: 1,
        ..RateLimitsConfig::default()
    };
    let l = limiter(store, cfg);
    let now = at(T0);
    let rules = [
        (Rule::PhoneApiSendPerKey, "key-1"),
        (Rule::PhoneApiSendPerNumber, "+4915112345678"),
    ];
    assert_eq!(l.hit_many(&rules, now).await.unwrap(), Ok(()));
    // Second request: the key is still under 2, the number is over 1.
    let limited = l.hit_many(&rules, now).await.unwrap().unwrap_err();
    assert_eq!(limited.rule, Rule::PhoneApiSendPerNumber);
    // Third: both are over; the first in the order given answers.
    let limited = l.hit_many(&rules, now).await.unwrap().unwrap_err();
    assert_eq!(limited.rule, Rule::PhoneApiSendPerKey);
    // Every rule was counted on every call, as three `hit`s each would have.
    assert!(
        l.check(Rule::PhoneApiSendPerKey, "key-1", now)
            .await
            .unwrap()
            .is_err()
    );
    let other = [(Rule::PhoneApiSendPerNumber, "+4915112345679")];
    assert_eq!(l.hit_many(&other, now).await.unwrap(), Ok(()));
}

async fn overlapping_batches_in_parallel_neither_deadlock_nor_lose_hits(store: &Store) {
    let l = limiter(store, RateLimitsConfig::default());
    let now = at(T0);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let l = l.clone();
            tokio::spawn(async move {
                // Half the requests name the counters in the other order.
                let (a, b) = ("subject-a", "subject-b");
                let rules = if i % 2 == 0 {
                    [(Rule::SendPerIp, a), (Rule::SubmitPerIp, b)]
                } else {
                    [(Rule::SubmitPerIp, b), (Rule::SendPerIp, a)]
                };
                l.hit_many(&rules, now).await.unwrap()
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        if t.await.unwrap().is_err() {
            refused += 1;
        }
    }
    // 30 sends per IP per 10 minutes: exactly the last 10 of 40 are over.
    assert_eq!(refused, 10);
}

async fn budgets_hold_when_rate_limiting_is_off(store: &Store) {
    let off = RateLimitsConfig {
        enabled: false,
        ..RateLimitsConfig::default()
    };
    let l = limiter(store, off);
    let now = at(T0);
    for _ in 0..3 {
        let r = l
            .batch(now)
            .rule(Rule::SendPerIp, "x")
            .budget(Rule::SmsGlobalDay, "all", 2)
            .hit()
            .await
            .unwrap();
        if let Err(limited) = r {
            assert_eq!(limited.rule, Rule::SmsGlobalDay);
            return;
        }
    }
    panic!("the budget of 2 held for 3 hits");
}

fn policy(store: &Store, cfg: SmsPolicyConfig) -> SmsPolicy {
    SmsPolicy::new(&cfg, limiter(store, RateLimitsConfig::default())).unwrap()
}

async fn sms_range_cap_stops_sequential_numbers(store: &Store) {
    let p = policy(
        store,
        SmsPolicyConfig {
            daily_limit_per_range: 20,
            ..SmsPolicyConfig::default()
        },
    );
    let now = at(T0);
    // A pumping run: +49 151 12345000, 001, 002, ... all in one range of 1000 numbers.
    for i in 0..20 {
        let number = format!("+4915112345{i:03}");
        assert!(
            p.admit(Channel::Sms, &number, now).await.unwrap().is_ok(),
            "{number}"
        );
    }
    let refused = p
        .admit(Channel::Sms, "+4915112345020", now)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.refusal, SmsRefusal::RangeCap);
    assert!(refused.retry_after.is_some());
    // The next range, and the next day, are open.
    assert!(
        p.admit(Channel::Sms, "+4915112346000", now)
            .await
            .unwrap()
            .is_ok()
    );
    let tomorrow = now + chrono::Duration::days(1);
    assert!(
        p.admit(Channel::Voice, "+4915112345020", tomorrow)
            .await
            .unwrap()
            .is_ok()
    );
}

async fn sms_country_and_global_caps(store: &Store) {
    let p = policy(
        store,
        SmsPolicyConfig {
            daily_limit_per_country: 3,
            country_daily_limits: [("FR".to_owned(), 1)].into(),
            daily_limit_global: 5,
            ..SmsPolicyConfig::default()
        },
    );
    let now = at(T0);
    let admit = |n: &'static str| {
        let p = p.clone();
        async move { p.admit(Channel::Sms, n, now).await.unwrap() }
    };
    assert!(admit("+33612345678").await.is_ok());
    assert_eq!(
        admit("+33698765432").await.unwrap_err().refusal,
        SmsRefusal::CountryCap,
        "France's own cap of 1"
    );
    for n in ["+4915112345678", "+4916012345678", "+4917012345678"] {
        assert!(admit(n).await.is_ok(), "{n}");
    }
    assert_eq!(
        admit("+4917112345678").await.unwrap_err().refusal,
        SmsRefusal::CountryCap
    );
    // 6 counted so far (refusals count too); the global cap of 5 now stops every country.
    assert_eq!(
        admit("+14155552671").await.unwrap_err().refusal,
        SmsRefusal::GlobalCap
    );
    // A static refusal never reaches the counters.
    assert_eq!(
        admit("+449091234567").await.unwrap_err().refusal,
        SmsRefusal::NumberType
    );
}
