//! Window math, key derivation and the paths that must not touch the database.
//! The counting itself is covered by the contract tests in tests/persistence/ratelimit.rs.

use std::net::IpAddr;

use chrono::{Duration as ChronoDuration, TimeZone};

use super::*;

fn at(secs: i64, millis: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, millis * 1_000_000)
        .single()
        .unwrap()
}

fn keys() -> Keyring {
    Keyring::new(&["rate-limit-test-secret-0123"])
}

#[test]
fn window_contains_now_and_is_aligned_to_its_phase() {
    for (secs, len, phase) in [
        (1_700_000_000, 60, 0),
        (1_700_000_000, 600, 17),
        (1_700_000_059, 60, 59),
        (1_700_000_000, 86_400, 86_399),
        (5, 60, 30),
        (-5, 60, 0),
    ] {
        let now = at(secs, 250);
        let (start, end) = window(now, len, phase);
        assert!(start <= now && now < end, "{secs} {len} {phase}");
        assert_eq!((end - start).num_seconds(), len);
        assert_eq!((start.timestamp() - phase).rem_euclid(len), 0);
        assert_eq!(start.timestamp_subsec_nanos(), 0, "whole seconds only");
    }
}

#[test]
fn window_boundaries_belong_to_the_next_window() {
    let (s1, e1) = window(at(119, 999), 60, 0);
    let (s2, e2) = window(at(120, 0), 60, 0);
    assert_eq!((s1, e1), (at(60, 0), at(120, 0)));
    assert_eq!((s2, e2), (at(120, 0), at(180, 0)));
}

#[test]
fn retry_after_rounds_up_and_is_at_least_one_second() {
    assert_eq!(retry_after(at(120, 0), at(60, 0)), Duration::from_secs(60));
    assert_eq!(
        retry_after(at(120, 0), at(109, 300)),
        Duration::from_secs(11)
    );
    assert_eq!(
        retry_after(at(120, 0), at(119, 999)),
        Duration::from_secs(1)
    );
    assert_eq!(retry_after(at(120, 0), at(120, 0)), Duration::from_secs(1));
    assert_eq!(retry_after(at(120, 0), at(125, 0)), Duration::from_secs(1));
}

#[test]
fn slot_key_is_a_mac_separated_by_rule_and_the_window_covers_now() {
    let k = keys();
    let now = at(1_700_000_000, 0);
    let a = slot(
        &k,
        Rule::VerificationSendPerAddressShort,
        "a@example.com",
        now,
    );
    assert!(a.key.starts_with("verification_send_address_10m:"));
    assert_eq!(a.key.len(), "verification_send_address_10m:".len() + 64);
    assert!(!a.key.contains("example"), "no subject in clear");
    assert!(a.start <= now && now < a.end);
    assert_eq!((a.end - a.start).num_seconds(), 600);
    // Deterministic, and the same subject under another rule gets an unrelated MAC.
    assert_eq!(
        a,
        slot(
            &k,
            Rule::VerificationSendPerAddressShort,
            "a@example.com",
            now
        )
    );
    let other_rule = slot(&k, Rule::PhoneApiSendPerNumber, "a@example.com", now);
    assert_ne!(a.key.split(':').nth(1), other_rule.key.split(':').nth(1));
    // Another secret, another key: nothing guessable without the keyring.
    let other = slot(
        &Keyring::new(&["another-secret-0123456789"]),
        Rule::VerificationSendPerAddressShort,
        "a@example.com",
        now,
    );
    assert_ne!(a.key, other.key);
}

#[test]
fn phases_differ_between_subjects_so_windows_do_not_reset_together() {
    let k = keys();
    let now = at(1_700_000_000, 0);
    let starts: std::collections::HashSet<_> = (0..20)
        .map(|i| {
            slot(
                &k,
                Rule::CodeFailuresPerAddressDay,
                &format!("u{i}@x.org"),
                now,
            )
            .start
        })
        .collect();
    assert!(starts.len() > 10, "only {} distinct phases", starts.len());
}

#[test]
fn a_subject_keeps_its_window_until_it_ends() {
    let k = keys();
    let first = slot(
        &k,
        Rule::LoginFailuresPerAccount,
        "bob",
        at(1_700_000_000, 0),
    );
    let later = first.end - ChronoDuration::milliseconds(1);
    assert_eq!(first, slot(&k, Rule::LoginFailuresPerAccount, "bob", later));
    let next = slot(&k, Rule::LoginFailuresPerAccount, "bob", first.end);
    assert_eq!(next.start, first.end);
    assert_eq!(next.key, first.key);
}

#[test]
fn rules_map_to_their_config_fields_and_windows() {
    let cfg = RateLimitsConfig::default();
    let expected = [
        (Rule::VerificationSendPerAddressShort, 5, 600),
        (Rule::VerificationSendPerAddressDay, 10, 86_400),
        (Rule::CodeFailuresPerAddressDay, 20, 86_400),
        (Rule::FlowCreatePerIp, 60, 60),
        (Rule::SendPerIp, 30, 600),
        (Rule::SubmitPerIp, 60, 60),
        (Rule::LoginPerIp, 30, 60),
        (Rule::LoginFailuresPerAccount, 100, 900),
        (Rule::LoginFailuresPerClientMinute, 5, 60),
        (Rule::LoginFailuresPerClientHour, 20, 3600),
        (Rule::CodeFailuresPerAddressTotalDay, 100, 86_400),
        (Rule::PhoneApiSendPerNumber, 5, 600),
        (Rule::PhoneApiSendPerKey, 100, 60),
        (Rule::PhoneApiFailuresPerNumberDay, 10, 86_400),
        // Limits from protection.sms, applied through Batch::budget only.
        (Rule::SmsPerRangeDay, 0, 86_400),
        (Rule::SmsPerCountryDay, 0, 86_400),
        (Rule::SmsGlobalDay, 0, 86_400),
    ];
    assert_eq!(expected.len(), Rule::ALL.len());
    for (rule, limit, window) in expected {
        assert_eq!(
            (rule.limit(&cfg), rule.window_secs()),
            (limit, window),
            "{rule:?}"
        );
    }
    let ids: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), Rule::ALL.len(), "rule ids are unique");
}

#[test]
fn ip_subjects_are_v4_hosts_and_v6_slash_64_prefixes() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(ip_subject(ip("203.0.113.7")), "203.0.113.7/32");
    assert_eq!(ip_subject(ip("::ffff:203.0.113.7")), "203.0.113.7/32");
    assert_eq!(
        ip_subject(ip("2001:db8:aaaa:bbbb:1:2:3:4")),
        "2001:db8:aaaa:bbbb::/64"
    );
    assert_eq!(
        ip_subject(ip("2001:db8:aaaa:bbbb:ffff::9")),
        ip_subject(ip("2001:db8:aaaa:bbbb::1")),
        "one /64 is one subject"
    );
    assert_ne!(
        ip_subject(ip("2001:db8:aaaa:bbbb::1")),
        ip_subject(ip("2001:db8:aaaa:bbbc::1"))
    );
}

/// A store whose every query fails fast: nothing listens on port 1.
fn unreachable_store() -> Store {
    let opts: sqlx::postgres::PgConnectOptions =
        "postgres://nobody@127.0.0.1:1/none".parse().unwrap();
    Store::Postgres(crate::persistence::PgPool::new(
        opts,
        4,
        Duration::from_millis(300),
    ))
}

#[tokio::test]
async fn disabled_limiter_and_zero_limits_never_touch_the_database() {
    let now = at(1_700_000_000, 0);
    let off = RateLimitsConfig {
        enabled: false,
        ..RateLimitsConfig::default()
    };
    let limiter = RateLimiter::new(unreachable_store(), keys(), off);
    assert!(!limiter.enabled());
    assert_eq!(
        limiter.hit(Rule::SendPerIp, "x", now).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        limiter.check(Rule::SendPerIp, "x", now).await.unwrap(),
        Ok(())
    );

    let zero = RateLimitsConfig {
        sends_per_ip_10m: 0,
        ..RateLimitsConfig::default()
    };
    let limiter = RateLimiter::new(unreachable_store(), keys(), zero);
    assert!(limiter.enabled());
    assert_eq!(
        limiter.hit(Rule::SendPerIp, "x", now).await.unwrap(),
        Ok(())
    );
}

#[tokio::test]
async fn database_failure_is_an_error_not_a_pass() {
    let limiter = RateLimiter::new(unreachable_store(), keys(), RateLimitsConfig::default());
    let now = at(1_700_000_000, 0);
    assert!(limiter.hit(Rule::SendPerIp, "x", now).await.is_err());
    assert!(limiter.check(Rule::SendPerIp, "x", now).await.is_err());
}
