//! Sorting the keys of a loaded config before serde sees it: keys Verity knows stay; keys only
//! Kratos knows are taken out with one warning each; keys neither knows become errors, all of
//! them in one report. Verity's keys come from the settings' JSON schema (schemars), Kratos's
//! from `kratos_keys`.

use serde_json::{Map, Value};

use super::kratos_keys::{GENERIC, children, is_kratos_key, why_ignored};

#[derive(Debug, Default)]
pub struct KeyReport {
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// Walks `value` (the merged file and environment) against `schema` (Verity's settings),
/// removing the Kratos-only keys from `value`.
pub fn sort_keys(value: &mut Value, schema: &Value) -> KeyReport {
    let mut report = KeyReport::default();
    walk(value, schema, schema, &mut Vec::new(), &mut report);
    report
}

enum Lookup<'a> {
    Known(&'a Value),
    /// Free-form below here (a map of anything, a `serde_json::Value` field).
    Open,
    Unknown,
}

fn deref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            root.get("$defs")
                .and_then(|d| d.get(name))
                .map_or(node, |target| deref(root, target))
        }
        None => node,
    }
}

/// The node and every branch of its `anyOf`/`oneOf`/`allOf`, references followed.
fn branches<'a>(root: &'a Value, node: &'a Value, out: &mut Vec<&'a Value>) {
    let node = deref(root, node);
    out.push(node);
    for combinator in ["anyOf", "oneOf", "allOf"] {
        for b in node
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            branches(root, b, out);
        }
    }
}

fn is_free(node: &Value) -> bool {
    match node {
        Value::Bool(b) => *b,
        Value::Object(m) => ![
            "type",
            "properties",
            "$ref",
            "anyOf",
            "oneOf",
            "allOf",
            "items",
            "enum",
            "const",
        ]
        .iter()
        .any(|k| m.contains_key(*k)),
        _ => false,
    }
}

fn child<'a>(root: &'a Value, node: &'a Value, key: &str) -> Lookup<'a> {
    let mut all = Vec::new();
    branches(root, node, &mut all);
    if all.iter().any(|b| is_free(b)) {
        return Lookup::Open;
    }
    if let Some(found) = all
        .iter()
        .find_map(|b| b.get("properties").and_then(|p| p.get(key)))
    {
        return Lookup::Known(found);
    }
    for b in &all {
        match b.get("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(extra @ Value::Object(_)) => return Lookup::Known(extra),
            Some(Value::Bool(true)) => return Lookup::Open,
            _ if b.get("type") == Some(&Value::String("object".into()))
                && b.get("properties").is_none() =>
            {
                return Lookup::Open;
            }
            _ => {}
        }
    }
    Lookup::Unknown
}

fn items<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let mut all = Vec::new();
    branches(root, node, &mut all);
    all.iter().find_map(|b| b.get("items"))
}

fn property_names(root: &Value, node: &Value) -> Vec<String> {
    let mut all = Vec::new();
    branches(root, node, &mut all);
    all.iter()
        .filter_map(|b| b.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect()
}

/// Path segments: object keys, or `None` for an array element.
type Path = Vec<(String, bool)>;

fn shown(path: &Path) -> String {
    path.iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

fn pattern(path: &Path) -> String {
    let mut out = String::new();
    for (k, index) in path {
        if *index {
            out.push_str("[]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(k);
        }
    }
    out
}

fn walk(value: &mut Value, root: &Value, node: &Value, path: &mut Path, report: &mut KeyReport) {
    match value {
        Value::Object(map) => walk_object(map, root, node, path, report),
        Value::Array(list) => {
            let Some(item) = items(root, node) else {
                return;
            };
            for (i, element) in list.iter_mut().enumerate() {
                path.push((i.to_string(), true));
                walk(element, root, item, path, report);
                path.pop();
            }
        }
        _ => {}
    }
}

fn walk_object(
    map: &mut Map<String, Value>,
    root: &Value,
    node: &Value,
    path: &mut Path,
    report: &mut KeyReport,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        path.push((key.clone(), false));
        match child(root, node, &key) {
            Lookup::Open => {}
            Lookup::Known(sub) => {
                if let Some(why) = no_effect(&pattern(path), &map[&key]) {
                    report.warnings.push(format!(
                        "  - `{}`: {why}; the key has no effect. Fix: remove it to silence this warning.",
                        shown(path)
                    ));
                }
                if let Some(v) = map.get_mut(&key) {
                    walk(v, root, sub, path, report);
                }
            }
            Lookup::Unknown if is_kratos_key(&pattern(path)) => {
                if let Some(v) = map.remove(&key) {
                    warn_ignored(&v, path, report);
                }
            }
            Lookup::Unknown => {
                let parent = pattern(&path[..path.len() - 1].to_vec());
                let mut near = property_names(root, node);
                near.extend(children(&parent));
                let hint = match closest(&key, &near) {
                    Some(n) => format!("did you mean `{n}`? Otherwise remove it"),
                    None => "remove it".to_owned(),
                };
                report.errors.push(format!(
                    "  - `{}`: unknown key (neither Kratos v26.2 nor Verity has it). Fix: {hint}.",
                    shown(path)
                ));
                map.remove(&key);
            }
        }
        path.pop();
    }
}

/// One warning for a Kratos-only key; a section without a reason of its own (`clients`) gets
/// one per key inside it instead, each with its reason.
fn warn_ignored(value: &Value, path: &mut Path, report: &mut KeyReport) {
    let why = why_ignored(&pattern(path));
    if let (None, Value::Object(map)) = (why, value)
        && !map.is_empty()
    {
        for (k, v) in map {
            path.push((k.clone(), false));
            warn_ignored(v, path, report);
            path.pop();
        }
        return;
    }
    report.warnings.push(format!(
        "  - `{}`: {}; the key is ignored. Fix: remove it to silence this warning.",
        shown(path),
        why.unwrap_or(GENERIC)
    ));
}

/// Keys Verity parses but that change nothing, because the feature behind them is absent.
fn no_effect(pattern: &str, value: &Value) -> Option<&'static str> {
    let seg: Vec<&str> = pattern.split('.').collect();
    let flow_key = |k: &str| seg.len() == 4 && seg[..2] == ["selfservice", "flows"] && seg[3] == k;
    if flow_key("style") {
        return Some(
            "Verity has no identifier-first login; every flow shows all its fields at once",
        );
    }
    if flow_key("login_hints") && value != &Value::Bool(false) {
        return Some("Verity does not add login hints to duplicate-account errors");
    }
    let aal = value.as_str().unwrap_or("aal1");
    if (flow_key("required_aal") || pattern == "session.whoami.required_aal") && aal != "aal1" {
        return Some("Verity has no second factor, so every session is aal1 and satisfies it");
    }
    if pattern == "ciphers.algorithm" && value.as_str() != Some("aes") {
        return Some(
            "Verity seals stored message texts with AES-256-GCM (`aes`) whatever this says",
        );
    }
    if seg.len() == 5
        && seg[..2] == ["selfservice", "flows"]
        && seg[3] == "after"
        && ["webauthn", "passkey", "totp", "lookup_secret"].contains(&seg[4])
    {
        return Some("this method is not available in Verity, so its hooks never run");
    }
    None
}

fn closest(key: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (distance(key, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        serde_json::to_value(schemars::schema_for!(crate::config::Settings)).unwrap()
    }

    #[test]
    fn kratos_only_keys_warn_and_go_unknown_keys_fail() {
        let mut v = json!({
            "version": "v26.2.0",
            "serve": {"public": {"port": 1, "prot": 2, "tls": {"cert": {"path": "x"}}}},
            "selfservice": {"methods": {"totp": {"enabled": true}, "lookup_secret": {"enabled": true}},
                "flows": {"login": {"style": "identifier_first"}}},
            "tracing": {"provider": "jaeger"},
            "protection": {"fetch_metadata": {}},
        });
        let r = sort_keys(&mut v, &schema());
        let warnings = r.warnings.join("\n");
        for key in [
            "serve.public.tls",
            "selfservice.methods.totp",
            "selfservice.methods.lookup_secret",
            "tracing",
            "selfservice.flows.login.style",
        ] {
            assert!(warnings.contains(&format!("`{key}`")), "{key}: {warnings}");
        }
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(
            r.errors[0].contains("`serve.public.prot`"),
            "{:?}",
            r.errors
        );
        assert!(
            r.errors[0].contains("did you mean `port`"),
            "{:?}",
            r.errors
        );
        assert!(v["serve"]["public"].get("tls").is_none());
        assert!(v["selfservice"]["methods"].get("totp").is_none());
        assert!(v.get("protection").is_some());
    }

    #[test]
    fn array_elements_and_maps_are_walked() {
        let mut v = json!({
            "identity": {"schemas": [{"id": "a", "url": "file://a", "selfservice_selectable": true, "bogus": 1}]},
            "courier": {"templates": {"verification_code": {"valid": {"email": {"subject": "x"}}}}},
        });
        let r = sort_keys(&mut v, &schema());
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("identity.schemas.0.selfservice_selectable"));
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert!(r.errors[0].contains("identity.schemas.0.bogus"));
    }
}
