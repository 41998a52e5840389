use serde_json::json;

use super::*;
use crate::courier::kind::with_aliases;

fn cfg() -> CourierConfig {
    CourierConfig::default()
}

fn render(t: &Templates, kind: TemplateKind, part: Part, model: serde_json::Value) -> String {
    let serde_json::Value::Object(m) = model else {
        panic!()
    };
    t.render(kind, part, &with_aliases(&m)).unwrap()
}

#[test]
fn builtins_load_and_cover_their_channels() {
    let t = Templates::load(&cfg(), None).unwrap();
    for kind in TemplateKind::ALL {
        for ch in kind.builtin_channels() {
            let part = match ch {
                crate::persistence::Channel::Email => Part::EmailText,
                crate::persistence::Channel::Sms => Part::SmsBody,
                crate::persistence::Channel::Voice => Part::VoiceBody,
            };
            assert!(t.has(kind, part), "{kind:?} lacks {part:?}");
        }
    }
    assert!(!t.has(TemplateKind::VerificationCodeInvalid, Part::SmsBody));
}

#[test]
fn kratos_texts_and_escaping() {
    let t = Templates::load(&cfg(), None).unwrap();
    let mut model = TemplateKind::VerificationCodeValid.sample_model();
    model["verification_code"] = json!("<b>&123</b>");
    let text = render(
        &t,
        TemplateKind::VerificationCodeValid,
        Part::EmailText,
        model.clone(),
    );
    assert!(text.contains("<b>&123</b>"), "text is not escaped: {text}");
    let subject = render(
        &t,
        TemplateKind::VerificationCodeValid,
        Part::EmailSubject,
        model.clone(),
    );
    assert!(!subject.contains("123"), "the subject carries no code");
    let html = render(
        &t,
        TemplateKind::VerificationCodeValid,
        Part::EmailHtml,
        model.clone(),
    );
    assert!(
        html.contains("&lt;b&gt;&amp;123&lt;/b&gt;"),
        "HTML escapes: {html}"
    );
    assert!(!html.contains("<b>&123"));
    let sample = TemplateKind::VerificationCodeInvalid.sample_model();
    let s = render(
        &t,
        TemplateKind::VerificationCodeInvalid,
        Part::EmailSubject,
        sample.clone(),
    );
    assert_eq!(s.trim(), "Someone tried to verify this email address");
    let b = render(
        &t,
        TemplateKind::VerificationCodeInvalid,
        Part::EmailText,
        sample,
    );
    assert!(b.contains("If this was you, check if you signed up using a different address."));
    let v = TemplateKind::VerificationValid.sample_model();
    assert_eq!(
        render(&t, TemplateKind::VerificationValid, Part::EmailSubject, v).trim(),
        "Please verify your email address"
    );
}

#[test]
fn sms_web_otp_line_only_with_a_domain() {
    let t = Templates::load(&cfg(), None).unwrap();
    let mut m = TemplateKind::VerificationCodeValid.sample_model();
    assert!(
        render(
            &t,
            TemplateKind::VerificationCodeValid,
            Part::SmsBody,
            m.clone()
        )
        .contains("@id.example.com #123456")
    );
    m["request_url_domain"] = serde_json::Value::Null;
    let sms = render(&t, TemplateKind::VerificationCodeValid, Part::SmsBody, m);
    assert!(sms.starts_with("Your verification code is: 123456"));
    assert!(!sms.contains('@'));
    let voice = render(
        &t,
        TemplateKind::PhoneVerificationCode,
        Part::VoiceBody,
        TemplateKind::PhoneVerificationCode.sample_model(),
    );
    assert!(voice.contains("1 2 3 4"), "{voice}");
}

#[test]
fn strict_mode_rejects_unknown_names_at_load() {
    let mut c = cfg();
    c.templates.insert(
        "verification_code".into(),
        serde_json::from_value(
            json!({"valid": {"email": {"subject": "Code {{verificaton_code}}"}}}),
        )
        .unwrap(),
    );
    let err = Templates::load(&c, None).unwrap_err().to_string();
    assert!(
        err.contains("verification_code/valid/email.subject"),
        "{err}"
    );
}

#[test]
fn overrides_from_config_inline_base64_and_file() {
    let dir = std::env::temp_dir().join(format!("verity-tpl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("body.hbs"), "File body {{VerificationCode}}").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode("B64 sms {{verification_code}}");
    let mut c = cfg();
    c.templates.insert(
        "verification_code".into(),
        serde_json::from_value(json!({"valid": {
            "email": {"subject": "Inline {{verification_code}}", "body": {"plaintext": "file://body.hbs"}},
            "sms": {"body": {"plaintext": format!("base64://{b64}")}}
        }}))
        .unwrap(),
    );
    let t = Templates::load(&c, Some(&dir)).unwrap();
    let m = TemplateKind::VerificationCodeValid.sample_model();
    assert_eq!(
        render(
            &t,
            TemplateKind::VerificationCodeValid,
            Part::EmailSubject,
            m.clone()
        ),
        "Inline 123456"
    );
    assert_eq!(
        render(
            &t,
            TemplateKind::VerificationCodeValid,
            Part::EmailText,
            m.clone()
        ),
        "File body 123456"
    );
    assert_eq!(
        render(&t, TemplateKind::VerificationCodeValid, Part::SmsBody, m),
        "B64 sms 123456"
    );
    let mut remote = cfg();
    remote.templates.insert(
        "verification".into(),
        serde_json::from_value(json!({"valid": {"email": {"subject": "https://example.com/x"}}}))
            .unwrap(),
    );
    assert!(Templates::load(&remote, None).is_err());
    let mut unknown = cfg();
    unknown.templates.insert(
        "nonsense".into(),
        serde_json::from_value(json!({"valid": {}})).unwrap(),
    );
    assert!(Templates::load(&unknown, None).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn override_directory_replaces_and_adds_files() {
    let dir = std::env::temp_dir().join(format!("verity-tpl-{}", uuid::Uuid::new_v4()));
    let kind_dir = dir.join("verification_code/invalid");
    std::fs::create_dir_all(&kind_dir).unwrap();
    std::fs::write(kind_dir.join("email.subject.hbs"), "No account for {{to}}").unwrap();
    std::fs::write(kind_dir.join("sms.body.hbs"), "No account for {{To}}").unwrap();
    let mut c = cfg();
    c.template_override_path = Some(dir.display().to_string());
    let t = Templates::load(&c, None).unwrap();
    let m = TemplateKind::VerificationCodeInvalid.sample_model();
    assert_eq!(
        render(
            &t,
            TemplateKind::VerificationCodeInvalid,
            Part::EmailSubject,
            m.clone()
        ),
        "No account for someone@example.com"
    );
    assert!(
        t.has(TemplateKind::VerificationCodeInvalid, Part::SmsBody),
        "an override can add a channel"
    );
    std::fs::write(kind_dir.join("email.body.gotmpl"), "{{ .To }}").unwrap();
    let err = Templates::load(&c, None).unwrap_err().to_string();
    assert!(err.contains("Go template"), "{err}");
    c.template_override_path = Some(dir.join("missing").display().to_string());
    assert!(Templates::load(&c, None).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The built-in bodies read as Kratos v26.2's (its subjects carry the code; ours do not).
#[test]
fn builtin_bodies_use_kratos_wording() {
    let t = Templates::load(&cfg(), None).unwrap();
    let cases = [
        (
            TemplateKind::VerificationCodeValid,
            "Verify your account with the following code:\n\n123456\n\nor clicking the following link:",
            "If this was not you, do nothing. This code / link expires in",
        ),
        (
            TemplateKind::RegistrationCodeValid,
            "Complete your account registration with the following code:",
            "This code expires in",
        ),
        (
            TemplateKind::VerificationValid,
            "Verify your account by opening the following link:",
            "If this was not you, do nothing. This link expires in",
        ),
        (
            TemplateKind::VerificationInvalid,
            "Someone asked to verify this email address, but we were unable to find an account",
            "If this was not you, please ignore this email.",
        ),
    ];
    for (kind, start, line) in cases {
        let text = render(&t, kind, Part::EmailText, kind.sample_model());
        assert!(text.starts_with(start), "{kind:?}: {text}");
        assert!(text.contains(line), "{kind:?}: {text}");
        let subject = render(&t, kind, Part::EmailSubject, kind.sample_model());
        assert!(
            !subject.contains("123456"),
            "no code in the subject: {subject}"
        );
    }
    let sms = render(
        &t,
        TemplateKind::VerificationCodeValid,
        Part::SmsBody,
        TemplateKind::VerificationCodeValid.sample_model(),
    );
    assert!(
        sms.contains("\n\nIf this was not you, do nothing. It expires in"),
        "{sms}"
    );
}
