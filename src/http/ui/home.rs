//! The model of the start page (`/ui/`): who is signed in, or links to sign in and up.

use actix_web::HttpRequest;
use serde_json::{Map, Value, json};

use crate::http::ApiError;
use crate::http::AppState as Registry;
use crate::identity::Identity;
use crate::session::Session;

/// Links to every browser flow and, with a session, the identity and a sign-out link.
pub async fn home_context(reg: &Registry, req: &HttpRequest) -> Result<Value, ApiError> {
    let public = reg.urls.public.as_str();
    let flow = |kind: &str| format!("{public}self-service/{kind}/browser");
    let mut model = json!({
        "flows": {
            "registration": flow("registration"),
            "login": flow("login"),
            "verification": flow("verification"),
            "settings": flow("settings"),
        },
        "signed_in": false,
        "identity": null,
        "logout_href": null,
    });
    if let Some((session, identity)) = crate::http::public::sessions::session_of(reg, req).await? {
        model["signed_in"] = json!(true);
        model["identity"] = identity_view(reg, &identity);
        model["logout_href"] = json!(logout_url(reg, &session).await?);
    }
    Ok(model)
}

/// The sign-out link, as `GET /self-service/logout/browser` gives it, coming back here.
async fn logout_url(reg: &Registry, session: &Session) -> Result<String, ApiError> {
    let home = format!("{}ui/", reg.urls.public);
    Ok(crate::http::public::sessions::logout_url(reg, session, Some(&home)).0)
}

fn identity_view(reg: &Registry, identity: &Identity) -> Value {
    let mut rows = Vec::new();
    flatten("", &identity.traits, &mut rows);
    let schema = reg.identities.schemas().get(&identity.schema_id);
    // Addresses are listed below in their normalised form; the trait as typed is not
    // repeated beside them. Trait keys show as the schema's titles.
    let traits: Vec<Value> = rows
        .into_iter()
        .filter(|r| !is_listed_address(identity, r["value"].as_str().unwrap_or("")))
        .map(|mut r| {
            let key = r["name"].as_str().unwrap_or("").to_owned();
            r["name"] = json!(schema.and_then(|s| title(&s.raw, &key)).unwrap_or(key));
            r
        })
        .collect();
    let addresses: Vec<Value> = identity
        .verifiable_addresses
        .iter()
        .map(|a| {
            json!({
                "value": a.value,
                "via": a.via.as_str(),
                "verified": a.verified,
                "status": a.status.as_str(),
            })
        })
        .collect();
    json!({
        "id": identity.id,
        "traits": traits,
        "addresses": addresses,
        "verified": identity.is_verified(reg.settings.identity.verified_rule),
    })
}

/// Whether `value` is one of the identity's verifiable addresses, however it was typed.
fn is_listed_address(identity: &Identity, value: &str) -> bool {
    let forms = [
        crate::schema::normalize_email(value).ok(),
        crate::schema::normalize_phone(value).ok(),
    ];
    identity
        .verifiable_addresses
        .iter()
        .any(|a| forms.iter().flatten().any(|f| *f == a.value))
}

/// The schema's `title` of a (dotted) trait.
fn title(schema: &Value, dotted: &str) -> Option<String> {
    let mut node = schema.pointer("/properties/traits")?;
    for part in dotted.split('.') {
        node = node.get("properties")?.get(part)?;
    }
    node.get("title").and_then(Value::as_str).map(str::to_owned)
}

/// Traits as `{name, value}` rows; nested objects become dotted names.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        Value::Null => {}
        other => {
            let value = match other {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                x => x.to_string(),
            };
            let mut row = Map::new();
            row.insert(
                "name".into(),
                json!(if prefix.is_empty() { "value" } else { prefix }),
            );
            row.insert("value".into(), json!(value));
            out.push(Value::Object(row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trait_titles_come_from_the_schema() {
        let schema = json!({"properties": {"traits": {"properties": {
            "email": {"title": "E-Mail"},
            "name": {"properties": {"first": {"title": "First name"}}}
        }}}});
        assert_eq!(title(&schema, "email").as_deref(), Some("E-Mail"));
        assert_eq!(title(&schema, "name.first").as_deref(), Some("First name"));
        assert_eq!(title(&schema, "name.last"), None);
    }

    #[test]
    fn traits_flatten_to_dotted_rows() {
        let mut out = Vec::new();
        flatten(
            "",
            &json!({"email": "a@b.c", "name": {"first": "A", "last": null}, "tags": ["x", 1]}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                json!({"name": "email", "value": "a@b.c"}),
                json!({"name": "name.first", "value": "A"}),
                json!({"name": "tags", "value": "x, 1"}),
            ]
        );
    }
}
