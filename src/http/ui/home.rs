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
    let mut traits = Vec::new();
    flatten("", &identity.traits, &mut traits);
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
