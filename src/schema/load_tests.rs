use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use super::tests::{NOWHERE, email_ext, with_traits};
use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("verity-schema-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn base64_urls_load() {
    let raw = with_traits(json!({"email": {"type": "string", "ory.sh/kratos": email_ext()}}));
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw.to_string());
    let sources = [("b64".to_owned(), format!("base64://{encoded}"))];
    let reg = SchemaRegistry::load(&sources, "b64", None).expect("loads");
    assert_eq!(reg.default_id(), "b64");
    assert_eq!(reg.get("b64").expect("present").raw, raw);

    let sources = [("b64".to_owned(), "base64://%%%".to_owned())];
    let err = SchemaRegistry::load(&sources, "b64", None).expect_err("bad base64");
    assert!(matches!(err, SchemaError::Base64 { .. }), "{err:?}");
}

#[test]
fn unknown_scheme_names_id_and_url() {
    let sources = [("remote".to_owned(), "https://example.com/s.json".to_owned())];
    let err = SchemaRegistry::load(&sources, "remote", None).expect_err("unsupported");
    let text = err.to_string();
    assert!(
        text.contains("\"remote\"") && text.contains("https://example.com/s.json"),
        "{text}"
    );
}

#[test]
fn file_urls_prefer_disk_then_base_dir_then_bundled() {
    let dir = temp_dir("base");
    std::fs::create_dir_all(dir.join("identity-schemas")).expect("mkdir");
    let custom = with_traits(json!({"login": {"type": "string"}}));
    std::fs::write(
        dir.join("identity-schemas/email.schema.json"),
        custom.to_string(),
    )
    .expect("write");
    let sources = [(
        "default".to_owned(),
        "file://identity-schemas/email.schema.json".to_owned(),
    )];

    let reg = SchemaRegistry::load_in(&sources, "default", Some(&dir), Some(Path::new(NOWHERE)))
        .expect("loads from base_dir");
    assert_eq!(reg.get("default").expect("present").raw, custom);

    let reg = SchemaRegistry::load_in(&sources, "default", None, Some(Path::new(NOWHERE)))
        .expect("falls back to the bundled copy");
    assert_eq!(
        reg.get("default").expect("present").raw["title"],
        "Person (email)"
    );

    let reg = SchemaRegistry::load_in(&sources, "default", Some(Path::new(NOWHERE)), Some(&dir))
        .expect("loads from cwd");
    assert_eq!(reg.get("default").expect("present").raw, custom);

    let missing = [(
        "x".to_owned(),
        "file://identity-schemas/nope.schema.json".to_owned(),
    )];
    let err = SchemaRegistry::load_in(&missing, "x", None, Some(Path::new(NOWHERE)))
        .expect_err("missing");
    assert!(matches!(err, SchemaError::NotFound { .. }), "{err:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn registry_checks_ids_and_keeps_order() {
    let all = ["email", "phone", "email-and-phone", "username"].map(|n| {
        (
            n.to_owned(),
            format!("file://./identity-schemas/{n}.schema.json"),
        )
    });
    let reg =
        SchemaRegistry::load_in(&all, "phone", None, Some(Path::new(NOWHERE))).expect("loads");
    let ids: Vec<_> = reg.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["email", "phone", "email-and-phone", "username"]);
    assert!(reg.get("nope").is_none());

    let err = SchemaRegistry::load_in(&all, "default", None, Some(Path::new(NOWHERE)))
        .expect_err("no default");
    assert!(matches!(err, SchemaError::UnknownDefault { .. }), "{err:?}");
    let twice = [all[0].clone(), all[0].clone()];
    let err =
        SchemaRegistry::load_in(&twice, "email", None, Some(Path::new(NOWHERE))).expect_err("dup");
    assert!(matches!(err, SchemaError::DuplicateId { .. }), "{err:?}");
}

#[test]
fn validate_file_summarises_the_extension() {
    let dir = temp_dir("validate");
    let path = dir.join("s.json");
    std::fs::write(
        &path,
        include_str!("../../identity-schemas/email-and-phone.schema.json"),
    )
    .expect("write");
    let lines = validate_file(&path).expect("valid");
    assert!(lines[0].contains("draft-07"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("#/traits/phone (format tel)")
                && l.contains("verification via sms")),
        "{lines:?}"
    );

    std::fs::write(
        &path,
        r#"{"properties": {"traits": {"properties": {"e": {"ory.sh/kratos": {"x": 1}}}}}}"#,
    )
    .expect("write");
    assert!(matches!(
        validate_file(&path),
        Err(SchemaError::Extension { .. })
    ));
    assert!(matches!(
        validate_file(&dir.join("missing.json")),
        Err(SchemaError::Read { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}
