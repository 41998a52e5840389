use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use verity::crypto::Keyring;
use verity::persistence::Store;
use verity::ratelimit::{RateLimiter, RateLimitsConfig, Rule, ip_subject};

crate::contract!(
    concurrent_hits_are_counted_exactly,
    keys_and_windows_are_independent,
    purge_removes_only_expired_rows,
    limiter_refuses_the_hit_after_the_limit,
    check_does_not_count_and_failures_carry_across_calls,
    subjects_are_stored_only_as_macs,
    every_hundredth_hit_purges_expired_rows,
);

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap()
}

const T0: i64 = 1_800_000_000;

async fn concurrent_hits_are_counted_exactly(store: &Store) {
    let (start, end) = (at(T0), at(T0 + 600));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.hit_rate_limit("k", start, end).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    // Every hit saw a distinct count: no lost update, no double insert.
    assert_eq!(seen, (1..=50).collect::<Vec<i64>>());
    assert_eq!(store.peek_rate_limit("k", start).await.unwrap(), 50);
}

async fn keys_and_windows_are_independent(store: &Store) {
    let (w1, w2) = (at(T0), at(T0 + 60));
    for _ in 0..3 {
        store.hit_rate_limit("a", w1, w2).await.unwrap();
    }
    assert_eq!(store.hit_rate_limit("b", w1, w2).await.unwrap(), 1);
    assert_eq!(
        store.hit_rate_limit("a", w2, at(T0 + 120)).await.unwrap(),
        1
    );
    assert_eq!(store.peek_rate_limit("a", w1).await.unwrap(), 3);
    assert_eq!(store.peek_rate_limit("a", w2).await.unwrap(), 1);
    assert_eq!(store.peek_rate_limit("b", w1).await.unwrap(), 1);
    assert_eq!(
        store.peek_rate_limit("c", w1).await.unwrap(),
        0,
        "no row is 0"
    );
}

async fn purge_removes_only_expired_rows(store: &Store) {
    let now = at(T0 + 1000);
    store
        .hit_rate_limit("old", at(T0), at(T0 + 60))
        .await
        .unwrap();
    store
        .hit_rate_limit("older", at(T0 - 600), at(T0))
        .await
        .unwrap();
    store
        .hit_rate_limit("edge", at(T0 + 940), now)
        .await
        .unwrap();
    store
        .hit_rate_limit("live", at(T0 + 960), at(T0 + 1020))
        .await
        .unwrap();
    // A fractional `now` must compare correctly with whole-second expiries (SQLite: as text).
    let just_before = now - Duration::milliseconds(1);
    assert_eq!(store.purge_rate_limits(just_before).await.unwrap(), 2);
    assert_eq!(store.peek_rate_limit("old", at(T0)).await.unwrap(), 0);
    assert_eq!(
        store.peek_rate_limit("older", at(T0 - 600)).await.unwrap(),
        0
    );
    // A window ending exactly now is expired only once now has passed it.
    assert_eq!(store.purge_rate_limits(now).await.unwrap(), 0);
    assert_eq!(
        store.peek_rate_limit("edge", at(T0 + 940)).await.unwrap(),
        1
    );
    let after = now + Duration::milliseconds(1);
    assert_eq!(store.purge_rate_limits(after).await.unwrap(), 1);
    assert_eq!(
        store.peek_rate_limit("live", at(T0 + 960)).await.unwrap(),
        1
    );
}

fn limiter(store: &Store) -> RateLimiter {
    let cfg = RateLimitsConfig {
        verification_sends_per_address_10m: 3,
        code_failures_per_address_day: 2,
        ..RateLimitsConfig::default()
    };
    RateLimiter::new(
        store.clone(),
        Keyring::new(&["contract-test-secret-0123"]),
        cfg,
    )
}

async fn limiter_refuses_the_hit_after_the_limit(store: &Store) {
    let l = limiter(store);
    let rule = Rule::VerificationSendPerAddressShort;
    let now = at(T0) + Duration::milliseconds(300);
    for i in 1..=3 {
        assert_eq!(
            l.hit(rule, "a@example.com", now).await.unwrap(),
            Ok(()),
            "hit {i}"
        );
    }
    let limited = l
        .hit(rule, "a@example.com", now)
        .await
        .unwrap()
        .unwrap_err();
    let retry = limited.retry_after;
    assert!(retry >= StdDuration::from_secs(1) && retry <= StdDuration::from_secs(600));
    assert_eq!(retry.subsec_nanos(), 0, "whole seconds for Retry-After");
    // `now` is .300 past a whole second and windows end on whole seconds, so the window ends
    // exactly 0.3 s before now + retry: at -0.5 s the limit still holds, with 1 s to wait.
    let late = now + Duration::from_std(retry).unwrap() - Duration::milliseconds(500);
    let again = l
        .hit(rule, "a@example.com", late)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(again.retry_after, StdDuration::from_secs(1));
    // Another address, or the next window, starts from zero.
    assert_eq!(l.hit(rule, "b@example.com", now).await.unwrap(), Ok(()));
    let next = now + Duration::from_std(retry).unwrap();
    assert_eq!(l.hit(rule, "a@example.com", next).await.unwrap(), Ok(()));
}

async fn check_does_not_count_and_failures_carry_across_calls(store: &Store) {
    let l = limiter(store);
    let rule = Rule::CodeFailuresPerAddressDay;
    let now = at(T0);
    for _ in 0..5 {
        assert_eq!(l.check(rule, "+4915112345678", now).await.unwrap(), Ok(()));
    }
    // Two wrong codes, e.g. in two different flows: the budget is per address.
    l.hit(rule, "+4915112345678", now).await.unwrap().unwrap();
    l.hit(rule, "+4915112345678", now).await.unwrap().unwrap();
    let refused = l
        .check(rule, "+4915112345678", now)
        .await
        .unwrap()
        .unwrap_err();
    assert!(refused.retry_after <= StdDuration::from_secs(86_400));
    assert_eq!(l.check(rule, "+4915112345679", now).await.unwrap(), Ok(()));
}

async fn subjects_are_stored_only_as_macs(store: &Store) {
    let l = limiter(store);
    let now = at(T0);
    let ip = ip_subject("203.0.113.77".parse().unwrap());
    l.hit(
        Rule::VerificationSendPerAddressShort,
        "alice@example.com",
        now,
    )
    .await
    .unwrap()
    .unwrap();
    l.hit(Rule::SendPerIp, &ip, now).await.unwrap().unwrap();
    let sql = "SELECT key FROM rate_limit_counters ORDER BY key";
    let keys: Vec<String> = match store {
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    };
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert!(!key.contains("alice") && !key.contains("example") && !key.contains("203.0"));
        let (rule, mac) = key.split_once(':').unwrap();
        assert!(
            ["send_ip_10m", "verification_send_address_10m"].contains(&rule),
            "{key}"
        );
        assert!(
            mac.len() == 64 && mac.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}"
        );
    }
}

async fn every_hundredth_hit_purges_expired_rows(store: &Store) {
    store
        .hit_rate_limit("stale", at(T0 - 120), at(T0 - 60))
        .await
        .unwrap();
    let l = limiter(store);
    let now = at(T0);
    for _ in 0..99 {
        l.hit(Rule::PhoneApiSendPerKey, "key-1", now)
            .await
            .unwrap()
            .ok();
    }
    assert_eq!(
        store.peek_rate_limit("stale", at(T0 - 120)).await.unwrap(),
        1
    );
    l.hit(Rule::PhoneApiSendPerKey, "key-1", now)
        .await
        .unwrap()
        .ok();
    assert_eq!(
        store.peek_rate_limit("stale", at(T0 - 120)).await.unwrap(),
        0
    );
}
