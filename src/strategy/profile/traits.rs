//! The trait inputs of a registration or settings form, derived from the identity schema,
//! and the traits object rebuilt from a submitted form.

use serde_json::{Map, Value, json};

use crate::flow::core::messages::label_trait;
use crate::flow::core::ui::{Input, Node};

/// One leaf property under `traits`, in schema order.
struct Leaf<'a> {
    name: String,
    schema: &'a Value,
    required: bool,
}

fn leaves<'a>(schema: &'a Value, prefix: &str, required: &'a [Value], out: &mut Vec<Leaf<'a>>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (key, prop) in props {
        let name = format!("{prefix}.{key}");
        let is_required = required.iter().any(|r| r.as_str() == Some(key));
        if prop.get("type").and_then(Value::as_str) == Some("object") {
            let inner = prop
                .get("required")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            leaves(prop, &name, inner, out);
        } else {
            out.push(Leaf {
                name,
                schema: prop,
                required: is_required,
            });
        }
    }
}

fn traits_schema(raw: &Value) -> Option<&Value> {
    raw.get("properties").and_then(|p| p.get("traits"))
}

fn input_type(prop: &Value) -> &'static str {
    match (
        prop.get("type").and_then(Value::as_str),
        prop.get("format").and_then(Value::as_str),
    ) {
        (_, Some("email")) => "email",
        (_, Some("tel")) => "tel",
        (_, Some("date")) => "date",
        (_, Some("date-time")) => "datetime-local",
        (_, Some("uri")) => "url",
        (Some("integer" | "number"), _) => "number",
        (Some("boolean"), _) => "checkbox",
        _ => "text",
    }
}

/// Kratos v26.2 derives autocomplete from the format alone (`email`, `tel`, `uri`), the only
/// values of its SDK enum a trait can take.
fn autocomplete(prop: &Value) -> Option<&'static str> {
    match prop.get("format").and_then(Value::as_str)? {
        "email" => Some("email"),
        "tel" => Some("tel"),
        "uri" => Some("url"),
        _ => None,
    }
}

/// The login `identifier` field's label, as Kratos reads it from the schema: the title of
/// the one trait that identifies (password, code, webauthn or passkey, totp account name),
/// else 1070004 "ID".
pub fn identifier_label(schema_raw: &Value) -> crate::text::Text {
    let Some(traits) = traits_schema(schema_raw) else {
        return crate::flow::core::messages::label_identifier();
    };
    let mut all = Vec::new();
    leaves(traits, "traits", &[], &mut all);
    let marks = [
        "/credentials/password/identifier",
        "/credentials/webauthn/identifier",
        "/credentials/passkey/display_name",
        "/credentials/totp/account_name",
        "/credentials/code/identifier",
    ];
    let identifying: Vec<&Leaf> = all
        .iter()
        .filter(|l| {
            l.schema.get("ory.sh/kratos").is_some_and(|ext| {
                marks
                    .iter()
                    .any(|m| ext.pointer(m).and_then(Value::as_bool) == Some(true))
            })
        })
        .collect();
    match identifying.as_slice() {
        [one] => match one.schema.get("title").and_then(Value::as_str) {
            Some(title) if !title.is_empty() => label_trait(title, &one.name),
            _ => crate::flow::core::messages::label_identifier(),
        },
        _ => crate::flow::core::messages::label_identifier(),
    }
}

/// Inputs for every trait (group `default`), pre-filled from `values` (the traits so far).
pub fn trait_nodes(schema_raw: &Value, values: &Value) -> Vec<Node> {
    let Some(traits) = traits_schema(schema_raw) else {
        return Vec::new();
    };
    let required = traits
        .get("required")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    leaves(traits, "traits", required, &mut out);
    out.into_iter()
        .map(|leaf| {
            let pointer = format!(
                "/{}",
                leaf.name.trim_start_matches("traits.").replace('.', "/")
            );
            let title = leaf
                .schema
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| leaf.name.rsplit('.').next().unwrap_or_default().to_owned());
            let mut node = Input {
                name: &leaf.name,
                kind: input_type(leaf.schema),
                group: "default",
                value: values.pointer(&pointer).cloned(),
                required: leaf.required,
                autocomplete: autocomplete(leaf.schema),
                label: Some(label_trait(&title, &leaf.name)),
            }
            .node();
            for key in ["pattern", "maxLength", "minLength"] {
                if let Some(v) = leaf.schema.get(key) {
                    let attr = match key {
                        "maxLength" => "maxlength",
                        "minLength" => "minlength",
                        other => other,
                    };
                    node.attributes.insert(attr.into(), v.clone());
                }
            }
            node
        })
        .collect()
}

/// Deepest trait path a form field may name.
const MAX_DEPTH: usize = 16;

/// Rebuilds `traits` from flat form fields (`traits.name.first=...`), converting each value
/// to the type its schema property declares. A JSON body's `traits` object wins.
pub fn traits_from_fields(schema_raw: &Value, fields: &Map<String, Value>) -> Value {
    if let Some(t) = fields.get("traits").filter(|t| t.is_object()) {
        return t.clone();
    }
    let mut traits = Value::Object(Map::new());
    for (key, value) in fields {
        let Some(path) = key.strip_prefix("traits.") else {
            continue;
        };
        // Only fields the schema declares are taken: a form can name any key, and building
        // arbitrarily deep objects from names like `traits.a.a.a...` would be a way to exhaust
        // the stack later. Schemas nest a few levels at most.
        if path.split('.').count() > MAX_DEPTH {
            continue;
        }
        let schema_pointer = format!("/properties/{}", path.replace('.', "/properties/"));
        let Some(prop) = traits_schema(schema_raw).and_then(|t| t.pointer(&schema_pointer)) else {
            continue;
        };
        let Some(typed) = coerce(value, Some(prop)) else {
            continue;
        };
        let mut cursor = &mut traits;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(obj) = cursor.as_object_mut() else {
                break;
            };
            if i + 1 == parts.len() {
                obj.insert((*part).to_owned(), typed.clone());
                break;
            }
            cursor = obj.entry(*part).or_insert_with(|| json!({}));
        }
    }
    traits
}

/// Form values arrive as strings; an empty optional field is left out (as browsers mean it).
fn coerce(value: &Value, prop: Option<&Value>) -> Option<Value> {
    let Value::String(s) = value else {
        return Some(value.clone());
    };
    let kind = prop.and_then(|p| p.get("type")).and_then(Value::as_str);
    match kind {
        Some("boolean") => Some(json!(matches!(s.as_str(), "true" | "on" | "1"))),
        Some("integer") => Some(s.parse::<i64>().map_or_else(|_| json!(s), |n| json!(n))),
        Some("number") => Some(s.parse::<f64>().map_or_else(|_| json!(s), |n| json!(n))),
        _ if s.is_empty() => None,
        _ => Some(json!(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"properties": {"traits": {"type": "object", "required": ["email"], "properties": {
            "email": {"type": "string", "format": "email", "title": "E-Mail",
                      "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
            "age": {"type": "integer"},
            "name": {"type": "object", "properties": {"first": {"type": "string", "maxLength": 30}}}
        }}}})
    }

    #[test]
    fn autocomplete_comes_from_the_format_only() {
        let raw = json!({"properties": {"traits": {"type": "object", "properties": {
            "user": {"type": "string", "title": "Username",
                     "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
            "contact": {"type": "string", "format": "email"},
            "site": {"type": "string", "format": "uri"}
        }}}});
        let nodes = trait_nodes(&raw, &json!({}));
        let ac: Vec<_> = nodes
            .iter()
            .map(|n| n.attributes.get("autocomplete").cloned())
            .collect();
        // No "username" (outside the v26.2 SDK enum); a non-identifier email still gets "email".
        assert_eq!(ac, [None, Some(json!("email")), Some(json!("url"))]);
        let label = nodes[0].meta.label.as_ref().unwrap();
        assert_eq!(
            label.context,
            Some(json!({"title": "Username", "name": "traits.user"}))
        );
        assert_eq!(identifier_label(&raw).id, 1070002);
        assert_eq!(identifier_label(&raw).text, "Username");
    }

    #[test]
    fn the_identifier_label_is_the_single_identifier_title_or_id() {
        assert_eq!(identifier_label(&schema()).text, "E-Mail");
        let two = json!({"properties": {"traits": {"type": "object", "properties": {
            "a": {"type": "string", "title": "A", "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
            "b": {"type": "string", "title": "B", "ory.sh/kratos": {"credentials": {"code": {"identifier": true, "via": "email"}}}}
        }}}});
        assert_eq!(identifier_label(&two).id, 1070004);
        assert_eq!(identifier_label(&json!({})).id, 1070004);
    }

    #[test]
    fn nodes_follow_the_schema() {
        let nodes = trait_nodes(&schema(), &json!({"email": "a@b.c"}));
        let names: Vec<_> = nodes
            .iter()
            .map(|n| n.attributes["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["traits.email", "traits.age", "traits.name.first"]);
        assert_eq!(nodes[0].attributes["type"], "email");
        assert_eq!(nodes[0].attributes["required"], true);
        assert_eq!(nodes[0].attributes["autocomplete"], "email");
        assert_eq!(nodes[0].attributes["value"], "a@b.c");
        assert_eq!(nodes[0].meta.label.as_ref().unwrap().text, "E-Mail");
        assert_eq!(nodes[1].attributes["type"], "number");
        assert_eq!(nodes[2].attributes["maxlength"], 30);
    }

    #[test]
    fn form_fields_become_typed_traits() {
        let mut f = Map::new();
        f.insert("traits.email".into(), json!("a@b.c"));
        f.insert("traits.age".into(), json!("42"));
        f.insert("traits.name.first".into(), json!("Ada"));
        f.insert("password".into(), json!("x"));
        let t = traits_from_fields(&schema(), &f);
        assert_eq!(
            t,
            json!({"email": "a@b.c", "age": 42, "name": {"first": "Ada"}})
        );
    }
}
