//! The identity as Kratos's admin API shows it.

use serde_json::{Map, Value, json};

use crate::http::schemas::schema_url;
use crate::identity::Identity;

/// `include` lists the credential types whose `config` is shown (`?include_credential=`);
/// all others appear without it, so hashes leave only on request.
pub fn identity_json(
    i: &Identity,
    public_base: &url::Url,
    rule: crate::identity::VerifiedRule,
    include: &[String],
    admin: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(i.id));
    m.insert("schema_id".into(), json!(i.schema_id));
    m.insert(
        "schema_url".into(),
        json!(schema_url(public_base, &i.schema_id)),
    );
    m.insert("state".into(), json!(i.state));
    // Verity's read-only summary of the addresses; SDKs ignore fields they do not know.
    m.insert("verified".into(), json!(i.is_verified(rule)));
    if let Some(t) = i.state_changed_at {
        m.insert("state_changed_at".into(), json!(t));
    }
    m.insert("traits".into(), i.traits.clone());
    if !i.verifiable_addresses.is_empty() {
        m.insert("verifiable_addresses".into(), json!(i.verifiable_addresses));
    }
    if !i.recovery_addresses.is_empty() {
        m.insert("recovery_addresses".into(), json!(i.recovery_addresses));
    }
    m.insert(
        "metadata_public".into(),
        i.metadata_public.clone().unwrap_or(Value::Null),
    );
    if admin {
        m.insert(
            "metadata_admin".into(),
            i.metadata_admin.clone().unwrap_or(Value::Null),
        );
        let mut creds = Map::new();
        for c in &i.credentials {
            let mut entry = Map::new();
            entry.insert("type".into(), json!(c.kind));
            entry.insert("identifiers".into(), json!(c.identifiers));
            if include.iter().any(|k| k == &c.kind) {
                entry.insert("config".into(), c.config.clone());
            }
            entry.insert("version".into(), json!(c.version));
            entry.insert("created_at".into(), json!(c.created_at));
            entry.insert("updated_at".into(), json!(c.updated_at));
            creds.insert(c.kind.clone(), Value::Object(entry));
        }
        m.insert("credentials".into(), Value::Object(creds));
    }
    if let Some(x) = &i.external_id {
        m.insert("external_id".into(), json!(x));
    }
    m.insert("organization_id".into(), Value::Null);
    m.insert("created_at".into(), json!(i.created_at));
    m.insert("updated_at".into(), json!(i.updated_at));
    Value::Object(m)
}
