use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;

/// Relative paths resolve against this, so only the bundled copies can satisfy them.
pub(super) const NOWHERE: &str = "/nonexistent/verity-schema-tests";

fn shipped(name: &str) -> Arc<IdentitySchema> {
    let sources = [(
        name.to_owned(),
        format!("file://identity-schemas/{name}.schema.json"),
    )];
    let reg = SchemaRegistry::load_in(&sources, name, None, Some(Path::new(NOWHERE)))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Arc::clone(reg.get(name).expect("loaded"))
}

pub(super) fn compile(raw: Value) -> IdentitySchema {
    IdentitySchema::compile("test", raw).unwrap_or_else(|e| panic!("{e}"))
}

/// A draft-07 schema whose traits have `props`.
pub(super) fn with_traits(props: Value) -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": props}}
    })
}

pub(super) fn email_ext() -> Value {
    json!({"verification": {"via": "email"}, "recovery": {"via": "email"}})
}

pub(super) fn errors(schema: &IdentitySchema, traits: Value) -> Vec<TraitError> {
    match schema.evaluate(&traits) {
        Ok(d) => panic!("expected errors, derived {d:?}"),
        Err(e) => e,
    }
}

#[test]
fn compiled_schemas_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SchemaRegistry>();
}

#[test]
fn email_schema_derives_everything_from_the_email() {
    let schema = shipped("email");
    let d = schema
        .evaluate(&json!({"email": "Alice@Example.COM", "name": {"first": "Alice"}}))
        .expect("valid");
    let addr = (Via::Email, "alice@example.com".to_owned());
    assert_eq!(d.verifiable, vec![addr.clone()]);
    assert_eq!(d.recovery, vec![addr.clone()]);
    assert_eq!(d.code_identifiers, vec![addr]);
    assert_eq!(d.password_identifiers, vec!["alice@example.com".to_owned()]);
}

#[test]
fn phone_schema_derives_e164() {
    let d = shipped("phone")
        .evaluate(&json!({"phone": "+49 151 12345678"}))
        .expect("valid");
    let addr = (Via::Sms, "+4915112345678".to_owned());
    assert_eq!(d.verifiable, vec![addr.clone()]);
    assert_eq!(d.code_identifiers, vec![addr]);
    assert!(d.recovery.is_empty());
    assert_eq!(d.password_identifiers, vec!["+4915112345678".to_owned()]);
}

#[test]
fn email_and_phone_schema_derives_both_and_phone_is_optional() {
    let schema = shipped("email-and-phone");
    let d = schema
        .evaluate(&json!({"email": "bob@example.org", "phone": "+1 415 555 2671"}))
        .expect("valid");
    assert_eq!(
        d.verifiable,
        vec![
            (Via::Email, "bob@example.org".to_owned()),
            (Via::Sms, "+14155552671".to_owned())
        ]
    );
    assert_eq!(d.recovery, vec![(Via::Email, "bob@example.org".to_owned())]);
    assert_eq!(
        d.password_identifiers,
        vec!["bob@example.org", "+14155552671"]
    );

    let d = schema
        .evaluate(&json!({"email": "bob@example.org"}))
        .expect("valid");
    assert_eq!(
        d.verifiable,
        vec![(Via::Email, "bob@example.org".to_owned())]
    );
}

#[test]
fn username_schema_uses_lowercased_username_as_identifier() {
    let schema = shipped("username");
    let d = schema
        .evaluate(&json!({"username": "Alice_01", "email": "alice@example.com"}))
        .expect("valid");
    assert_eq!(d.password_identifiers, vec!["alice_01".to_owned()]);
    assert_eq!(
        d.verifiable,
        vec![(Via::Email, "alice@example.com".to_owned())]
    );
    assert!(d.recovery.is_empty() && d.code_identifiers.is_empty());
}

#[test]
fn username_limits_map_to_their_kinds() {
    let schema = shipped("username");
    let e = errors(&schema, json!({"username": "ab", "email": "a@example.com"}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].pointer, "#/traits/username");
    assert_eq!(e[0].kind, TraitErrorKind::MinLength { min: 3, actual: 2 });
    assert_eq!(e[0].message, "length must be >= 3, but got 2");

    let e = errors(
        &schema,
        json!({"username": "a".repeat(65), "email": "a@example.com"}),
    );
    assert_eq!(
        e[0].kind,
        TraitErrorKind::MaxLength {
            max: 64,
            actual: 65
        }
    );

    let e = errors(
        &schema,
        json!({"username": "no spaces", "email": "a@example.com"}),
    );
    assert!(matches!(&e[0].kind, TraitErrorKind::Pattern { pattern } if pattern.starts_with('^')));

    let e = errors(&schema, json!({"username": 5, "email": "a@example.com"}));
    assert_eq!(
        e[0].kind,
        TraitErrorKind::Type {
            expected: "string".into(),
            actual: "number".into()
        }
    );
    assert_eq!(e[0].message, "expected string, but got number");
}

#[test]
fn missing_required_names_the_property_at_the_parent() {
    let e = errors(&shipped("username"), json!({"email": "a@example.com"}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].pointer, "#/traits");
    assert_eq!(
        e[0].kind,
        TraitErrorKind::Required {
            property: "username".into()
        }
    );
    assert_eq!(e[0].message, "Property username is missing.");
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let e = errors(
        &shipped("username"),
        json!({"username": "x", "extra": true}),
    );
    let kinds: Vec<_> = e.iter().map(|e| &e.kind).collect();
    assert!(
        kinds.contains(&&TraitErrorKind::Required {
            property: "email".into()
        }),
        "{e:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, TraitErrorKind::MinLength { .. })),
        "{e:?}"
    );
    assert!(kinds.contains(&&TraitErrorKind::Other), "{e:?}"); // additionalProperties
}

#[test]
fn bad_email_is_invalid_email_once() {
    for bad in ["not-an-email", "Alice <alice@example.com>"] {
        let e = errors(&shipped("email"), json!({"email": bad}));
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert_eq!(e[0].pointer, "#/traits/email");
        assert_eq!(
            e[0].kind,
            TraitErrorKind::InvalidEmail { value: bad.into() }
        );
        assert_eq!(
            e[0].message,
            format!("{} is not a valid \"email\"", json!(bad))
        );
    }
}

#[test]
fn bad_tel_is_invalid_phone_once() {
    for bad in ["12", "+1 800 FLOWERS", "0151 12345678"] {
        let e = errors(
            &shipped("email-and-phone"),
            json!({"email": "a@example.com", "phone": bad}),
        );
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert_eq!(e[0].pointer, "#/traits/phone");
        assert_eq!(
            e[0].kind,
            TraitErrorKind::InvalidPhone { value: bad.into() }
        );
    }
}

#[test]
fn tel_format_is_checked_without_the_extension() {
    let schema = compile(with_traits(
        json!({"fax": {"type": "string", "format": "tel"}}),
    ));
    let e = errors(&schema, json!({"fax": "garbage"}));
    assert_eq!(
        e[0].kind,
        TraitErrorKind::InvalidPhone {
            value: "garbage".into()
        }
    );
    assert_eq!(
        schema.evaluate(&json!({"fax": "+4930123456"})),
        Ok(Derived::default())
    );
}

#[test]
fn via_sms_without_format_still_requires_a_phone_number() {
    let schema = compile(with_traits(json!({
        "mobile": {"type": "string", "ory.sh/kratos": {"verification": {"via": "sms"}}}
    })));
    let e = errors(&schema, json!({"mobile": "call me"}));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].pointer, "#/traits/mobile");
    assert_eq!(
        e[0].kind,
        TraitErrorKind::InvalidPhone {
            value: "call me".into()
        }
    );
}

#[test]
fn empty_values_are_not_derived() {
    let schema = compile(with_traits(
        json!({"email": {"type": "string", "ory.sh/kratos": email_ext()}}),
    ));
    assert_eq!(
        schema.evaluate(&json!({"email": ""})),
        Ok(Derived::default())
    );
}

#[test]
fn duplicate_addresses_are_deduplicated() {
    let schema = compile(with_traits(json!({
        "work": {"type": "string", "format": "email", "ory.sh/kratos": email_ext()},
        "home": {"type": "string", "format": "email", "ory.sh/kratos": email_ext()},
        "emails": {"type": "array", "items": {"type": "string", "ory.sh/kratos": email_ext()}}
    })));
    let d = schema
        .evaluate(&json!({
            "work": "Same@Example.com",
            "home": "same@example.com",
            "emails": ["SAME@example.com", "other@example.com"]
        }))
        .expect("valid");
    let mut got = d.verifiable.clone();
    got.sort();
    assert_eq!(
        got,
        vec![
            (Via::Email, "other@example.com".into()),
            (Via::Email, "same@example.com".into())
        ]
    );
    assert_eq!(d.recovery.len(), 2);
}

#[test]
fn nested_and_array_trait_properties() {
    let schema = compile(with_traits(json!({
        "contact": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email", "ory.sh/kratos": email_ext()},
            "phones": {"type": "array", "items": {"type": "string", "format": "tel",
                "ory.sh/kratos": {"verification": {"via": "sms"}}}}
        }}
    })));
    let d = schema
        .evaluate(&json!({"contact": {"email": "n@example.com", "phones": ["+49 30 123456", "+14155552671"]}}))
        .expect("valid");
    assert_eq!(
        d.verifiable,
        vec![
            (Via::Email, "n@example.com".into()),
            (Via::Sms, "+4930123456".into()),
            (Via::Sms, "+14155552671".into())
        ]
    );
    let e = errors(
        &schema,
        json!({"contact": {"phones": ["+4930123456", "nope"]}}),
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].pointer, "#/traits/contact/phones/1");
}

#[test]
fn self_referencing_schemas_terminate() {
    let mut raw = with_traits(json!({"root": {"$ref": "#/definitions/node"}}));
    raw["definitions"] = json!({"node": {"type": "object", "properties": {
        "email": {"type": "string", "ory.sh/kratos": email_ext()},
        "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}
    }}});
    let d = compile(raw)
        .evaluate(&json!({"root": {"email": "top@example.com", "children": [{"email": "deep@example.com"}]}}))
        .expect("valid");
    assert_eq!(d.verifiable, vec![(Via::Email, "top@example.com".into())]);
}
