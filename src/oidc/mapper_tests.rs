use serde_json::json;

use super::*;

/// The mapper from Kratos's "carry over verified status" documentation, unchanged.
const KRATOS_DOC_MAPPER: &str = r#"
local claims = {
  email_verified: false,
} + std.extVar('claims');

{
  identity: {
    traits: {
      [if 'email' in claims && claims.email_verified then 'email' else null]: claims.email,
      given_name: claims.given_name,
      family_name: claims.family_name,
    },
    verified_addresses: std.prune([
      // Carry over verified status from Social Sign-In provider.
      if 'email' in claims && claims.email_verified then { via: 'email', value: claims.email },
    ]),
  },
}
"#;

fn claims(verified: bool) -> Value {
    json!({"sub": "u1", "email": " Ada@Example.COM ", "email_verified": verified,
           "given_name": "Ada", "family_name": "Lovelace"})
}

#[test]
fn the_kratos_documentation_mapper_carries_verified_emails() {
    let m = Mapper::new(KRATOS_DOC_MAPPER).unwrap();
    let out = m.map(&claims(true)).unwrap();
    assert_eq!(out.traits["email"], " Ada@Example.COM ");
    assert_eq!(out.traits["given_name"], "Ada");
    assert_eq!(
        out.verified_addresses,
        vec![(Via::Email, "ada@example.com".to_owned())]
    );
    assert_eq!(out.metadata_public, None);

    let out = m.map(&claims(false)).unwrap();
    assert!(out.traits.get("email").is_none());
    assert!(out.verified_addresses.is_empty());
}

#[test]
fn metadata_and_phone_numbers_come_through() {
    let code = r#"local c = std.extVar('claims');
      { identity: { traits: { phone: c.phone_number },
                    verified_addresses: [{ via: 'sms', value: c.phone_number }],
                    metadata_public: { sub: c.sub }, metadata_admin: { raw: c } } }"#;
    let out = Mapper::new(code)
        .unwrap()
        .map(&json!({"sub": "s", "phone_number": "+49 151 1234 5678"}))
        .unwrap();
    assert_eq!(
        out.verified_addresses,
        vec![(
            Via::Sms,
            crate::schema::normalize_phone("+4915112345678").unwrap()
        )]
    );
    assert_eq!(out.metadata_public, Some(json!({"sub": "s"})));
    assert_eq!(out.metadata_admin.unwrap()["raw"]["sub"], "s");
}

#[test]
fn verified_addresses_must_be_an_array_of_entries() {
    let not_array =
        "{ identity: { traits: {}, verified_addresses: { via: 'email', value: 'a@b.co' } } }";
    let e = Mapper::new(not_array).unwrap().map(&json!({})).unwrap_err();
    assert!(matches!(e, MapperError::InvalidVerifiedAddresses(_)), "{e}");

    let bad_via = "{ identity: { traits: {}, verified_addresses: [{ via: 'fax', value: 'x' }] } }";
    let e = Mapper::new(bad_via).unwrap().map(&json!({})).unwrap_err();
    assert!(matches!(e, MapperError::InvalidVerifiedAddresses(_)), "{e}");

    let no_value = "{ identity: { traits: {}, verified_addresses: [{ via: 'email' }] } }";
    let e = Mapper::new(no_value).unwrap().map(&json!({})).unwrap_err();
    assert!(matches!(e, MapperError::InvalidVerifiedAddresses(_)), "{e}");

    // Not an address at all: it can match nothing, so it is dropped rather than failing.
    let junk =
        "{ identity: { traits: {}, verified_addresses: [{ via: 'email', value: 'nope' }] } }";
    let out = Mapper::new(junk).unwrap().map(&json!({})).unwrap();
    assert!(out.verified_addresses.is_empty());
}

#[test]
fn broken_mappers_are_errors_not_panics() {
    assert!(matches!(
        Mapper::new("{ identity: "),
        Err(MapperError::Evaluation(_))
    ));
    let runtime =
        Mapper::new("local c = std.extVar('claims'); { identity: { traits: { e: c.missing } } }")
            .unwrap();
    assert!(matches!(
        runtime.map(&json!({})),
        Err(MapperError::Evaluation(_))
    ));
    let thrown = Mapper::new("error 'no'").unwrap();
    assert!(thrown.map(&json!({})).is_err());
    assert!(matches!(
        Mapper::new("{ identity: { traits: { e: undefined_variable } } }"),
        Err(MapperError::Evaluation(_))
    ));
    // Only real claims can tell whether this works, so loading accepts it.
    Mapper::new("local c = std.extVar('claims'); if c.email_verified then {} else {}").unwrap();
    for shape in [
        "{}",
        "{ identity: {} }",
        "{ identity: { traits: [] } }",
        "[]",
        "'x'",
    ] {
        let e = Mapper::new(shape).unwrap().map(&json!({})).unwrap_err();
        assert!(matches!(e, MapperError::Shape(_)), "{shape}: {e}");
    }
}

#[test]
fn output_size_is_capped() {
    let big =
        "{ identity: { traits: { x: std.join('', std.makeArray(100000, function(i) 'x')) } } }";
    let e = Mapper::new(big).unwrap().map(&json!({})).unwrap_err();
    assert!(matches!(e, MapperError::Shape(_)), "{e}");
}

#[tokio::test]
async fn map_async_runs_on_the_blocking_pool() {
    let m = Mapper::new(KRATOS_DOC_MAPPER).unwrap();
    let out = m.map_async(claims(true)).await.unwrap();
    assert_eq!(out.traits["family_name"], "Lovelace");
}

#[test]
fn imports_are_refused_without_a_panic() {
    let r = Mapper::new("import 'other.jsonnet'").and_then(|m| m.map(&json!({})));
    assert!(matches!(r, Err(MapperError::Evaluation(_))), "{r:?}");
}

/// The mapper shipped in `identity-schemas/`.
const SHIPPED_MAPPER: &str = include_str!("../../identity-schemas/oidc.mapper.jsonnet");

#[test]
fn the_shipped_mapper_carries_over_only_verified_addresses() {
    let mapper = Mapper::new(SHIPPED_MAPPER).unwrap();
    let verified = mapper
        .map(&json!({"sub": "u1", "email": "Ada@Example.com", "email_verified": true}))
        .unwrap();
    assert_eq!(verified.traits, json!({"email": "Ada@Example.com"}));
    assert_eq!(
        verified.verified_addresses,
        vec![(Via::Email, "ada@example.com".to_owned())]
    );

    let unverified = mapper
        .map(&json!({"sub": "u1", "email": "bob@example.com", "email_verified": false}))
        .unwrap();
    assert_eq!(unverified.traits, json!({"email": "bob@example.com"}));
    assert!(unverified.verified_addresses.is_empty());

    let unsaid = mapper
        .map(&json!({"sub": "u1", "email": "eve@example.com"}))
        .unwrap();
    assert!(unsaid.verified_addresses.is_empty());
}

#[test]
fn the_shipped_mapper_leaves_out_a_missing_email() {
    let mapper = Mapper::new(SHIPPED_MAPPER).unwrap();
    let mapped = mapper.map(&json!({"sub": "u1"})).unwrap();
    assert_eq!(mapped.traits, json!({}));
    assert!(mapped.verified_addresses.is_empty());
    let schema = crate::schema::IdentitySchema::compile(
        "default",
        serde_json::from_str(include_str!("../../identity-schemas/email.schema.json")).unwrap(),
    )
    .unwrap();
    let errors = schema.evaluate(&mapped.traits).unwrap_err();
    assert!(
        errors.iter().any(|e| matches!(
            &e.kind,
            crate::schema::TraitErrorKind::Required { property } if property == "email"
        )),
        "{errors:?}"
    );
}
