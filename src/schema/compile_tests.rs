use serde_json::json;

use super::tests::{compile, email_ext, errors, with_traits};
use super::*;

#[test]
fn malformed_extensions_fail_to_compile() {
    let cases = [
        json!({"verification": {"via": "pigeon"}}),
        json!({"verification": {"via": "email", "when": "always"}}),
        json!({"credentials": {"password": {"identifier": "yes"}}}),
        json!({"credentials": {"code": {"identifier": true}}}),
        json!({"recovery": "email"}),
        json!({"unknown": {}}),
    ];
    for ext in cases {
        let raw = with_traits(json!({"email": {"type": "string", "ory.sh/kratos": ext}}));
        match IdentitySchema::compile("bad", raw) {
            Err(SchemaError::Extension { id, pointer, .. }) => {
                assert_eq!((id.as_str(), pointer.as_str()), ("bad", "#/traits/email"));
            }
            other => panic!("{ext}: expected an extension error, got {other:?}"),
        }
    }
}

#[test]
fn malformed_extension_outside_the_index_fails_through_the_keyword() {
    // anyOf is not indexed, so only the registered jsonschema keyword can catch this one.
    let raw = with_traits(json!({"email": {"anyOf": [
        {"type": "string", "ory.sh/kratos": {"verification": {"via": "pigeon"}}}
    ]}}));
    let err = IdentitySchema::compile("bad", raw).expect_err("must not compile");
    assert!(matches!(err, SchemaError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("ory.sh/kratos"), "{err}");
}

#[test]
fn invalid_json_schemas_fail_to_compile() {
    let err = IdentitySchema::compile("bad", with_traits(json!({"email": {"type": "strin"}})));
    assert!(matches!(err, Err(SchemaError::Invalid { .. })), "{err:?}");
    let err = IdentitySchema::compile("bad", json!({"$schema": "https://example.com/my-meta"}));
    assert!(
        matches!(err, Err(SchemaError::UnsupportedDraft { .. })),
        "{err:?}"
    );
    let err = IdentitySchema::compile("bad", json!([]));
    assert!(matches!(err, Err(SchemaError::Invalid { .. })), "{err:?}");
}

#[test]
fn remote_refs_are_a_clear_error() {
    let raw = with_traits(json!({"email": {"$ref": "https://example.com/email.json"}}));
    let err = IdentitySchema::compile("remote", raw).expect_err("offline build");
    assert!(
        matches!(&err, SchemaError::RemoteRef { reference, .. } if reference == "https://example.com/email.json")
    );
    assert!(err.to_string().contains("\"remote\""), "{err}");
}

#[test]
fn draft_2020_12_with_defs_and_refs() {
    let schema = compile(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"email": {"type": "string", "format": "email", "ory.sh/kratos": email_ext()}},
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": {
            "email": {"$ref": "#/$defs/email"},
            "backup": {"type": "string", "format": "email"}
        }}}
    }));
    assert_eq!(schema.draft_name(), "2020-12");
    let d = schema
        .evaluate(&json!({"email": "A@B.example"}))
        .expect("valid");
    assert_eq!(d.verifiable, vec![(Via::Email, "a@b.example".to_owned())]);
    // Format assertion is on even though 2020-12 makes it an annotation by default; `backup`
    // has no extension, so only jsonschema's format check can catch it.
    let e = errors(&schema, json!({"email": "a@b.example", "backup": "nope"}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].pointer, "#/traits/backup");
    assert_eq!(
        e[0].kind,
        TraitErrorKind::InvalidEmail {
            value: "nope".into()
        }
    );
}

#[test]
fn patterns_use_the_linear_time_engine() {
    // Lookaround needs a backtracking engine; rejecting it keeps user input from triggering
    // catastrophic backtracking, and Kratos (Go RE2) never supported it either.
    let raw = with_traits(json!({"u": {"type": "string", "pattern": "^(?=a)a+$"}}));
    let err = IdentitySchema::compile("re", raw);
    assert!(matches!(err, Err(SchemaError::Invalid { .. })), "{err:?}");
    let ok = compile(with_traits(
        json!({"u": {"type": "string", "pattern": "^\\p{L}+$"}}),
    ));
    assert!(ok.evaluate(&json!({"u": "Zoë"})).is_ok());
    assert!(ok.evaluate(&json!({"u": "Zoë1"})).is_err());
}

#[test]
fn draft_07_is_the_default() {
    let mut raw = with_traits(json!({"email": {"$ref": "#/definitions/email"}}));
    raw.as_object_mut().expect("object").remove("$schema");
    raw["definitions"] =
        json!({"email": {"type": "string", "format": "email", "ory.sh/kratos": email_ext()}});
    let schema = compile(raw);
    assert_eq!(schema.draft_name(), "draft-07");
    let d = schema
        .evaluate(&json!({"email": "x@example.com"}))
        .expect("valid");
    assert_eq!(d.recovery, vec![(Via::Email, "x@example.com".to_owned())]);
}
