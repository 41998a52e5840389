use super::*;
use crate::audit::capture;

fn cfg() -> SmsPolicyConfig {
    SmsPolicyConfig::default()
}

/// A limiter on an in-memory database (needs a runtime; the static checks use no I/O).
fn limiter() -> RateLimiter {
    RateLimiter::new(
        crate::persistence::Store::connect_lazy("memory").unwrap(),
        crate::crypto::Keyring::new(&["sms-policy-test-secret-0123456789"]),
        crate::ratelimit::RateLimitsConfig::default(),
    )
}

#[test]
fn ordinary_mobiles_and_landlines_pass_and_are_classified() {
    let d = classify(&cfg(), "+49 151 12345678").unwrap();
    assert_eq!(d.number, "+4915112345678");
    assert_eq!((d.region.as_deref(), d.calling_code), (Some("DE"), 49));
    assert_eq!(d.kind, NumberType::Mobile);
    assert_eq!(d.range(), "+4915112345");
    assert_eq!(d.country_key(), "DE");
    let us = classify(&cfg(), "+14155552671").unwrap();
    assert_eq!(us.kind, NumberType::FixedLineOrMobile);
    assert_eq!(
        classify(&cfg(), "+4976112345678").unwrap().kind,
        NumberType::FixedLine
    );
}

#[test]
fn numbers_the_test_suites_use_pass() {
    for n in [
        "+12025550163",
        "+12025550164",
        "+14155550123",
        "+4915100000000",
        "+4915133333333",
    ] {
        assert!(
            classify(&cfg(), n).is_ok(),
            "{n}: {:?}",
            classify(&cfg(), n)
        );
    }
}

#[test]
fn high_cost_types_are_refused_by_default() {
    // What phonenumber 0.3.10 (metadata 9.0.33) classifies them as, checked one by one.
    for (number, why) in [
        ("+44 909 123 4567", SmsRefusal::NumberType), // UK premium rate
        ("+448712345678", SmsRefusal::NumberType),    // UK 087x: premium rate
        ("+447012345678", SmsRefusal::NumberType),    // UK 070: personal number
        ("+445512345678", SmsRefusal::NumberType),    // UK 055: UAN
        ("+448001234567", SmsRefusal::NumberType),    // UK freephone
        ("+19005551234", SmsRefusal::NumberType),     // US 900: premium rate
        ("+881612345678", SmsRefusal::NonGeographic), // Globalstar satellite: "mobile"
        ("+870772001799", SmsRefusal::NonGeographic), // Inmarsat: "mobile"
        ("+88213100000", SmsRefusal::NonGeographic),  // international networks: "voip"
        ("+979123456789", SmsRefusal::NonGeographic), // international premium rate
        ("+80812345678", SmsRefusal::NonGeographic),  // international shared cost
        ("+97912345678", SmsRefusal::Invalid),        // too short for +979
        ("not a number", SmsRefusal::Invalid),
    ] {
        assert_eq!(classify(&cfg(), number), Err(why), "{number}");
    }
}

#[test]
fn countries_prefixes_and_types_are_configurable() {
    let only_de = SmsPolicyConfig {
        allowed_countries: vec!["DE".into()],
        ..cfg()
    };
    assert!(classify(&only_de, "+4915112345678").is_ok());
    assert_eq!(classify(&only_de, "+33612345678"), Err(SmsRefusal::Country));
    let denied = SmsPolicyConfig {
        denied_prefixes: vec!["+4915".into()],
        ..cfg()
    };
    assert_eq!(
        classify(&denied, "+49 151 12345678"),
        Err(SmsRefusal::Prefix)
    );
    let premium_ok = SmsPolicyConfig {
        allowed_number_types: vec![NumberType::PremiumRate],
        allow_non_geographic: true,
        ..cfg()
    };
    assert!(classify(&premium_ok, "+449091234567").is_ok());
    assert_eq!(
        classify(&premium_ok, "+4915112345678"),
        Err(SmsRefusal::NumberType)
    );
    let sat = classify(&premium_ok, "+979123456789").unwrap();
    assert_eq!(
        (sat.region.clone(), sat.country_key()),
        (None, "+979".to_owned())
    );
}

#[tokio::test]
async fn bad_config_is_refused_naming_the_key() {
    let limiter = limiter();
    for (c, key) in [
        (
            SmsPolicyConfig {
                allowed_countries: vec!["UK".into()],
                ..cfg()
            },
            "allowed_countries",
        ),
        (
            SmsPolicyConfig {
                denied_prefixes: vec!["44909".into()],
                ..cfg()
            },
            "denied_prefixes",
        ),
        (
            SmsPolicyConfig {
                country_daily_limits: [("gb".to_owned(), 1)].into(),
                ..cfg()
            },
            "country_daily_limits",
        ),
    ] {
        let err = SmsPolicy::new(&c, limiter.clone()).unwrap_err();
        assert!(err.contains(key), "{err}");
    }
    assert!(SmsPolicy::new(&cfg(), limiter).is_ok());
}

#[tokio::test]
async fn a_refusal_warns_without_the_number_audits_and_counts() {
    let limiter = limiter();
    let policy = SmsPolicy::new(&cfg(), limiter).unwrap();
    let counters = capture::Counters::default();
    let logs = capture::json_lines(|| {
        counters.record(|| {
            let r = policy.check(Channel::Sms, "+449091234567").unwrap_err();
            assert_eq!(r.refusal, SmsRefusal::NumberType);
        })
    });
    assert_eq!(
        counters.get("verity_sms_refused_total{reason=number_type}"),
        1
    );
    assert!(logs.contains(r#""level":"WARN""#), "{logs}");
    assert!(logs.contains(r#""event":"sms_refused""#), "{logs}");
    assert!(
        !logs.contains("9091234567"),
        "no number in the logs: {logs}"
    );
}
