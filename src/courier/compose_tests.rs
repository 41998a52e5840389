use chrono::TimeZone;
use serde_json::json;

use super::*;

fn settings(extra: &str) -> Settings {
    Settings::from_yaml(&format!(
        "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\nsecrets:\n  default: [\"a-signing-secret-0123\"]\n{extra}"
    ))
    .unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn data() -> Value {
    json!({"verification_code": "493817", "verification_url": "https://id.example.com/v?code=493817",
           "identity": {"traits": {"email": "a@example.com"}}, "expires_in_minutes": 10})
}

#[test]
fn compose_renders_seals_and_opens() {
    let c = Courier::from_settings(&settings(""), true).unwrap();
    let exp = now() + chrono::Duration::minutes(10);
    let m = c
        .compose(
            Channel::Email,
            "a@example.com",
            TemplateKind::VerificationCodeValid,
            &data(),
            Some(exp),
            now(),
        )
        .unwrap();
    assert_eq!(
        (m.status, m.channel, m.channel_id.as_str()),
        (MessageStatus::Queued, Channel::Email, "email")
    );
    assert_eq!(m.template_type, "verification_code_valid");
    assert_eq!(
        (m.next_attempt_at, m.expires_at, m.send_count),
        (now(), Some(exp), 0)
    );
    for field in [
        &m.subject,
        &m.body,
        m.html_body.as_ref().unwrap(),
        &m.template_data,
    ] {
        assert!(
            !field.0.windows(6).any(|w| w == b"493817"),
            "sealed at rest"
        );
    }
    assert!(!format!("{m:?}").contains("493817"), "Debug shows no code");
    let o = c.open(&m).unwrap();
    assert_eq!(
        o.subject, "Your verification code",
        "no code in the subject"
    );
    assert!(o.body.contains("493817") && o.body.contains("https://id.example.com/v?code=493817"));
    assert!(
        o.html_body
            .unwrap()
            .contains("href=\"https://id.example.com/v?code&#x3D;493817\"")
    );
    assert_eq!(o.template_data["to"], "a@example.com");
    assert_eq!(
        o.template_data["transient_payload"],
        Value::Null,
        "optional fields exist as null"
    );
}

#[test]
fn sms_and_voice_need_e164_and_a_template() {
    let c = Courier::from_settings(&settings(""), true).unwrap();
    let m = c
        .compose(
            Channel::Sms,
            "+4915112345678",
            TemplateKind::VerificationCodeValid,
            &data(),
            None,
            now(),
        )
        .unwrap();
    let o = c.open(&m).unwrap();
    assert!(o.body.starts_with("Your verification code is: 493817"));
    assert_eq!(o.subject, "");
    assert!(o.html_body.is_none());
    assert!(matches!(
        c.compose(
            Channel::Sms,
            "015112345678",
            TemplateKind::VerificationCodeValid,
            &data(),
            None,
            now()
        ),
        Err(CourierError::InvalidRecipient(..))
    ));
    assert!(matches!(
        c.compose(
            Channel::Sms,
            "+4915112345678",
            TemplateKind::VerificationCodeInvalid,
            &json!({}),
            None,
            now()
        ),
        Err(CourierError::NoTemplate { .. })
    ));
    let v = c
        .compose(
            Channel::Voice,
            "+4915112345678",
            TemplateKind::PhoneVerificationCode,
            &json!({"code": "4821", "expires_in_minutes": 5}),
            None,
            now(),
        )
        .unwrap();
    assert!(c.open(&v).unwrap().body.contains("4 8 2 1"));
}

#[test]
fn missing_data_is_an_error_not_a_blank() {
    let c = Courier::from_settings(&settings(""), true).unwrap();
    let mut d = data();
    d.as_object_mut().unwrap().remove("verification_code");
    let err = c
        .compose(
            Channel::Email,
            "a@example.com",
            TemplateKind::VerificationCodeValid,
            &d,
            None,
            now(),
        )
        .unwrap_err();
    assert!(
        matches!(err, CourierError::MissingData(ref f) if f == "verification_code"),
        "{err}"
    );
    let mut custom = settings(
        "courier:\n  templates:\n    verification_code:\n      valid:\n        email:\n          body:\n            plaintext: \"Hi {{identity.traits.name}}\"\n",
    );
    custom.courier.templates.clear();
    // A template naming a trait the identity lacks fails at compose, never renders a blank.
    let mut s = settings("");
    s.courier.templates.insert(
        "verification_code".into(),
        serde_json::from_value(json!({"valid": {"email": {"body": {"plaintext": "Hi {{identity.traits.email}} {{verification_code}}"}}}})).unwrap(),
    );
    let c = Courier::from_settings(&s, true).unwrap();
    let mut d = data();
    d["identity"] = json!({"traits": {"phone": "+4915112345678"}});
    let err = c
        .compose(
            Channel::Email,
            "a@example.com",
            TemplateKind::VerificationCodeValid,
            &d,
            None,
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, CourierError::Template(_)), "{err}");
}

#[test]
fn header_injection_is_refused_before_the_transport() {
    // The built-in subject carries no data, so an override that does exercises the guard.
    let mut s = settings("");
    s.courier.templates.insert(
        "verification_code".into(),
        serde_json::from_value(
            json!({"valid": {"email": {"subject": "Code {{verification_code}}"}}}),
        )
        .unwrap(),
    );
    let c = Courier::from_settings(&s, true).unwrap();
    let err = c
        .compose(
            Channel::Email,
            "a@b.c\r\nBcc: x@y.z",
            TemplateKind::VerificationCodeValid,
            &data(),
            None,
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, CourierError::HeaderInjection(_)), "{err}");
    let mut d = data();
    d["verification_code"] = json!("1\r\nBcc: victim@example.com");
    let err = c
        .compose(
            Channel::Email,
            "a@example.com",
            TemplateKind::VerificationCodeValid,
            &d,
            None,
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, CourierError::HeaderInjection(_)), "{err}");
}

#[tokio::test]
async fn transports_follow_dev_and_config() {
    let c = Courier::from_settings(&settings(""), true).unwrap();
    assert_eq!(
        c.inbox_channels(),
        vec![Channel::Email, Channel::Sms, Channel::Voice]
    );
    let c = Courier::from_settings(&settings(""), false).unwrap();
    assert!(c.inbox_channels().is_empty());
    assert!(!c.can_deliver(Channel::Email) && !c.can_deliver(Channel::Sms));
    let s = settings(
        "courier:\n  smtp:\n    connection_uri: smtp://user:hunter2@127.0.0.1:2525/?disable_starttls=true\n  channels:\n    - id: sms\n      type: http\n      preset:\n        provider: twilio\n        account_sid: AC1\n        auth_token: s3cret-token\n        from: \"+15550001\"\n",
    );
    let c = Courier::from_settings(&s, true).unwrap();
    assert_eq!(c.inbox_channels(), vec![Channel::Voice]);
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("hunter2") && !dbg.contains("s3cret"), "{dbg}");
}
