//! Turns a flow's `ui` container (`{action, method, nodes, messages}`) into the model the
//! templates render: every text translated, every attribute a template may ask for present
//! (strict mode), nodes grouped by `group` in order of first appearance. Nothing here knows
//! a flow kind, so a method that adds nodes shows up without template changes.

use serde_json::{Map, Value, json};

use super::catalogue::Catalogue;

fn str_attr<'a>(a: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    a.get(key).and_then(Value::as_str)
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Letters, digits, `-` and `_` only, so a node name is safe in an `id`.
fn dom_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Messages as the templates show them; `prefix` makes their ids unique on the page.
fn messages(cat: &Catalogue, lang: &str, list: Option<&Value>, prefix: &str) -> Vec<Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, m)| {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or("info");
            let kind = match kind {
                "error" | "success" | "info" => kind,
                _ => "info",
            };
            json!({
                "dom_id": format!("{prefix}-msg-{i}"),
                "text": cat.message(lang, m),
                "type": kind,
                "is_error": kind == "error",
            })
        })
        .collect()
}

/// The view of one node; `None` for nodes a page without JavaScript does not show (`script`).
pub fn node_view(cat: &Catalogue, lang: &str, node: &Value, index: usize) -> Option<Value> {
    let empty = Map::new();
    let a = node
        .get("attributes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let kind = node
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| str_attr(a, "node_type"))
        .unwrap_or("input");
    if kind == "script" {
        return None;
    }
    let name = str_attr(a, "name").unwrap_or("");
    let key = if name.is_empty() {
        str_attr(a, "id").unwrap_or(kind)
    } else {
        name
    };
    let dom_id = format!("n{index}-{}", dom_safe(key));
    let label = node
        .get("meta")
        .and_then(|m| m.get("label"))
        .or_else(|| a.get("label"))
        .filter(|l| l.is_object())
        .map(|l| cat.message(lang, l));
    let msgs = messages(cat, lang, node.get("messages"), &dom_id);
    let describedby = msgs
        .iter()
        .filter_map(|m| m["dom_id"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let invalid = msgs.iter().any(|m| m["is_error"] == true);
    let input_type = str_attr(a, "type").unwrap_or("text");
    let is_input = kind == "input";
    let is_button = is_input && matches!(input_type, "submit" | "button");
    let raw_value = a.get("value");
    let text = a.get("text").filter(|t| t.is_object());
    let secrets: Vec<Value> = text
        .and_then(|t| t.get("context"))
        .and_then(|c| c.get("secrets"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            if s.is_object() {
                json!(cat.message(lang, s))
            } else {
                json!(scalar(Some(s)).unwrap_or_default())
            }
        })
        .collect();
    let title = a
        .get("title")
        .map(|t| {
            if t.is_object() {
                cat.message(lang, t)
            } else {
                scalar(Some(t)).unwrap_or_default()
            }
        })
        .or_else(|| label.clone())
        .unwrap_or_default();
    Some(json!({
        "kind": kind,
        "group": node.get("group").and_then(Value::as_str).unwrap_or("default"),
        "is_input": is_input,
        "is_button": is_button,
        "is_hidden": is_input && input_type == "hidden",
        "is_checkbox": is_input && input_type == "checkbox",
        "is_text": kind == "text",
        "is_anchor": kind == "a",
        "is_img": kind == "img",
        "is_div": kind == "div",
        "dom_id": dom_id,
        "name": name,
        "type": input_type,
        "value": scalar(raw_value).unwrap_or_default(),
        "has_value": scalar(raw_value).is_some(),
        "checked": raw_value.is_some_and(|v| v == &json!(true) || v == &json!("true")),
        "required": a.get("required") == Some(&json!(true)),
        "disabled": a.get("disabled") == Some(&json!(true)),
        "autocomplete": str_attr(a, "autocomplete"),
        "pattern": str_attr(a, "pattern"),
        "maxlength": scalar(a.get("maxlength")),
        // Set by pages that know the code's alphabet (`http::ui::polish`).
        "inputmode": Value::Null,
        // Only `method` buttons ask the browser to validate the form: resend, provider and
        // similar buttons carry their own intent, and the server validates every submission.
        "formnovalidate": is_button && name != "method",
        "primary": is_button && name == "method",
        "label": label.clone().unwrap_or_else(|| name.to_owned()),
        "has_label": label.is_some(),
        "messages": msgs,
        "describedby": (!describedby.is_empty()).then_some(describedby),
        "invalid": invalid,
        "href": str_attr(a, "href").unwrap_or(""),
        "title": title,
        "src": str_attr(a, "src").unwrap_or(""),
        "alt": label.unwrap_or_default(),
        "width": scalar(a.get("width")),
        "height": scalar(a.get("height")),
        "text": text.map(|t| cat.message(lang, t)).unwrap_or_default(),
        "secrets": secrets,
        "class": str_attr(a, "class").unwrap_or(""),
    }))
}

/// The whole form: `{action, method, messages, groups: [{name, nodes}]}`.
pub fn form_view(cat: &Catalogue, lang: &str, ui: &Value) -> Value {
    let method = match ui.get("method").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("get") => "get",
        _ => "post",
    };
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    let nodes = ui.get("nodes").and_then(Value::as_array);
    for (i, node) in nodes.into_iter().flatten().enumerate() {
        let Some(view) = node_view(cat, lang, node, i) else {
            continue;
        };
        // A GET form would put the token into a URL (and the continue URL may be another site).
        if method == "get" && view["name"] == "csrf_token" {
            continue;
        }
        let group = view["group"].as_str().unwrap_or("default").to_owned();
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, list)) => list.push(view),
            None => groups.push((group, vec![view])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, nodes)| {
            let visible = nodes.iter().any(|n| n["is_hidden"] != true);
            json!({"name": dom_safe(&name), "nodes": nodes, "visible": visible, "heading": null})
        })
        .collect();
    let action = ui.get("action").and_then(Value::as_str).unwrap_or("");
    let forms: Vec<Value> = split_by_method(&groups)
        .into_iter()
        .map(|groups| json!({"action": action, "method": method, "groups": groups}))
        .collect();
    json!({
        "action": action,
        "method": method,
        "messages": messages(cat, lang, ui.get("messages"), "flow"),
        "groups": groups,
        "forms": forms,
    })
}

/// One form per method when several groups have their own `method` button (settings:
/// profile and password), each with the hidden `default` fields (the CSRF token). In a single
/// form, a required field of one method would block the browser from submitting another.
fn split_by_method(groups: &[Value]) -> Vec<Vec<Value>> {
    let has_method = |g: &Value| {
        g["nodes"].as_array().is_some_and(|ns| {
            ns.iter()
                .any(|n| n["is_button"] == true && n["name"] == "method")
        })
    };
    let is_default = |g: &Value| g["name"] == "default";
    let methods = groups
        .iter()
        .filter(|g| !is_default(g) && has_method(g))
        .count();
    let shared: Vec<&Value> = groups.iter().filter(|g| is_default(g)).collect();
    // Visible shared fields would be duplicated on the page: keep one form then.
    if methods < 2 || shared.iter().any(|g| g["visible"] == true) {
        return vec![groups.to_vec()];
    }
    groups
        .iter()
        .filter(|g| !is_default(g))
        .map(|g| {
            shared
                .iter()
                .map(|s| (*s).clone())
                .chain([g.clone()])
                .collect()
        })
        .collect()
}
