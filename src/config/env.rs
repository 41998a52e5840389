//! Environment variables in Kratos's convention: the key path upper-cased with `.` replaced
//! by `_` (`SERVE_PUBLIC_PORT`, `SELFSERVICE_FLOWS_VERIFICATION_UI_URL`, `IDENTITY_SCHEMAS_0_URL`).
//! A single `_` is both the separator and part of key names, so, as Kratos does, names are
//! resolved against the configuration's schema, and values are cast to the type found there.

use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};
use serde_json::{Map as JsonMap, Value};

/// A figment provider holding the overrides that environment variables make.
pub struct KratosEnv {
    overlay: Value,
    names: Vec<(String, String)>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl KratosEnv {
    /// `schema` is the JSON schema of the settings; `base` the file's values, needed because
    /// an indexed variable (`IDENTITY_SCHEMAS_0_URL`) changes one field of an array element.
    pub fn new(
        schema: &Value,
        base: &Value,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut overlay = Value::Object(JsonMap::new());
        let mut names = Vec::new();
        let mut vars: Vec<_> = vars.into_iter().collect();
        vars.sort();
        for (name, raw) in vars {
            let mut path = Vec::new();
            let Some(leaf) = resolve(schema, schema, &name, &mut path) else {
                continue;
            };
            let value = cast(schema, leaf, &raw);
            apply(&mut overlay, base, &path, value);
            names.push((dotted(&path), name));
        }
        Self { overlay, names }
    }
}

impl Provider for KratosEnv {
    fn metadata(&self) -> Metadata {
        let names = self.names.clone();
        Metadata::named("environment variable").interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            names
                .iter()
                .find(|(path, _)| *path == key || key.starts_with(&format!("{path}.")))
                .map(|(_, name)| format!("`{name}`"))
                .unwrap_or(key)
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        figment::providers::Serialized::defaults(&self.overlay).data()
    }
}

fn dotted(path: &[Segment]) -> String {
    path.iter()
        .map(|s| match s {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Follows `$ref`, and for `anyOf`/`oneOf` (how Options and tagged enums appear) the first
/// branch that is not `null`.
fn deref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        if let Some(target) = root.get("$defs").and_then(|d| d.get(name)) {
            return deref(root, target);
        }
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = node.get(combinator).and_then(Value::as_array) {
            let non_null = branches
                .iter()
                .map(|b| deref(root, b))
                .find(|b| b.get("type") != Some(&Value::String("null".into())));
            if let Some(b) = non_null {
                return b;
            }
        }
    }
    node
}

fn resolve<'a>(
    root: &'a Value,
    node: &'a Value,
    rest: &str,
    path: &mut Vec<Segment>,
) -> Option<&'a Value> {
    let node = deref(root, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (key, child) in props {
            let upper = key.to_ascii_uppercase();
            if rest == upper {
                path.push(Segment::Key(key.clone()));
                return Some(deref(root, child));
            }
            if let Some(tail) = rest.strip_prefix(&upper).and_then(|t| t.strip_prefix('_')) {
                path.push(Segment::Key(key.clone()));
                if let Some(found) = resolve(root, child, tail, path) {
                    return Some(found);
                }
                path.pop();
            }
        }
    }
    if let Some(items) = node.get("items") {
        let (index, tail) = rest.split_once('_').unwrap_or((rest, ""));
        if let Ok(i) = index.parse::<usize>() {
            path.push(Segment::Index(i));
            if tail.is_empty() {
                return Some(deref(root, items));
            }
            if let Some(found) = resolve(root, items, tail, path) {
                return Some(found);
            }
            path.pop();
        }
    }
    None
}

fn types(node: &Value) -> Vec<&str> {
    match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Casts the text to the schema's type. A value that does not fit stays a string, so
/// deserialisation reports the mismatch against the variable's name.
fn cast(root: &Value, leaf: &Value, raw: &str) -> Value {
    let leaf = deref(root, leaf);
    let ts = types(leaf);
    if ts.contains(&"boolean") {
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" => return Value::Bool(true),
            "false" | "0" => return Value::Bool(false),
            _ => {}
        }
    }
    if ts.contains(&"integer")
        && let Ok(n) = raw.parse::<i64>()
    {
        return Value::from(n);
    }
    if ts.contains(&"number")
        && let Ok(n) = raw.parse::<f64>()
    {
        return Value::from(n);
    }
    if ts.contains(&"array") {
        if let Ok(v @ Value::Array(_)) = serde_json::from_str(raw) {
            return v;
        }
        return Value::Array(
            raw.split(',')
                .map(|s| Value::String(s.trim().to_owned()))
                .collect(),
        );
    }
    let objectish = ts.contains(&"object") || (ts.is_empty() && leaf.get("properties").is_some());
    if objectish && let Ok(v @ Value::Object(_)) = serde_json::from_str(raw) {
        return v;
    }
    Value::String(raw.to_owned())
}

fn apply(overlay: &mut Value, base: &Value, path: &[Segment], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *overlay = value;
        return;
    };
    match first {
        Segment::Key(k) => {
            if !overlay.is_object() {
                *overlay = Value::Object(JsonMap::new());
            }
            let base_child = base.get(k).unwrap_or(&Value::Null);
            let slot = overlay
                .as_object_mut()
                .map(|m| m.entry(k.clone()).or_insert(Value::Null));
            if let Some(slot) = slot {
                // An array is replaced whole by figment, so start from the file's copy.
                if slot.is_null() && base_child.is_array() {
                    *slot = base_child.clone();
                }
                apply(slot, base_child, rest, value);
            }
        }
        Segment::Index(i) => {
            if !overlay.is_array() {
                *overlay = Value::Array(Vec::new());
            }
            if let Some(items) = overlay.as_array_mut() {
                while items.len() <= *i {
                    items.push(Value::Object(JsonMap::new()));
                }
                let base_child = base.get(*i).unwrap_or(&Value::Null);
                apply(&mut items[*i], base_child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        serde_json::to_value(schemars::schema_for!(crate::config::Settings)).unwrap()
    }

    fn overlay(base: Value, vars: &[(&str, &str)]) -> Value {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        KratosEnv::new(&schema(), &base, vars).overlay
    }

    #[test]
    fn nested_keys_with_underscores_resolve() {
        let o = overlay(
            json!({}),
            &[
                ("SERVE_PUBLIC_PORT", "5000"),
                ("SELFSERVICE_FLOWS_VERIFICATION_UI_URL", "http://ui/verify"),
                ("SELFSERVICE_FLOWS_VERIFICATION_ENABLED", "true"),
                ("DSN", "memory"),
                ("PATH", "/usr/bin"),
                ("SESSION_MANAGER", "x"),
            ],
        );
        assert_eq!(
            o,
            json!({
                "dsn": "memory",
                "serve": {"public": {"port": 5000}},
                "selfservice": {"flows": {"verification": {"ui_url": "http://ui/verify", "enabled": true}}}
            })
        );
    }

    #[test]
    fn indexed_variables_keep_the_rest_of_the_array() {
        let base = json!({"identity": {"schemas": [{"id": "default", "url": "file://a.json"}]}});
        let o = overlay(base, &[("IDENTITY_SCHEMAS_0_URL", "base64://e30")]);
        assert_eq!(
            o,
            json!({"identity": {"schemas": [{"id": "default", "url": "base64://e30"}]}})
        );
    }

    #[test]
    fn string_lists_accept_commas_or_json() {
        let o = overlay(
            json!({}),
            &[("SECRETS_DEFAULT", "aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb")],
        );
        assert_eq!(
            o["secrets"]["default"],
            json!(["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"])
        );
        let o = overlay(json!({}), &[("SECRETS_COOKIE", r#"["cccccccccccccccc"]"#)]);
        assert_eq!(o["secrets"]["cookie"], json!(["cccccccccccccccc"]));
    }

    #[test]
    fn a_value_of_the_wrong_type_stays_text() {
        let o = overlay(json!({}), &[("SERVE_PUBLIC_PORT", "eighty")]);
        assert_eq!(o["serve"]["public"]["port"], json!("eighty"));
    }
}
