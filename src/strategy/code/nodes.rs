//! The verification form's nodes of each state, in Kratos's order (the link strategy shares
//! the address field and the success form).

use serde_json::json;

use crate::flow::core::Method;
use crate::flow::core::ui::{Input, Node, Ui, anchor, csrf_node};
use crate::schema::Via;
use crate::text;

/// The address field: `type: email` (label 1070007) as Kratos sends it, or a text field for
/// "email or phone number" (1070018) when SMS can be sent. Autocomplete values stay within
/// the Ory SDKs' enum.
pub fn address_input(method: Method, phone_allowed: bool, value: Option<&str>) -> Node {
    let (kind, label, autocomplete) = if phone_allowed && method == Method::Code {
        ("text", text::label_email_or_phone(), None)
    } else {
        ("email", text::label_email(), Some("email"))
    };
    Input {
        name: "email",
        kind,
        group: method.as_str(),
        value: value.map(|v| json!(v)),
        required: true,
        autocomplete,
        label: Some(label),
    }
    .node()
}

pub fn submit(name: &str, value: &str, group: &str, label: crate::text::Text) -> Node {
    Input {
        name,
        kind: "submit",
        group,
        value: Some(json!(value)),
        required: false,
        autocomplete: None,
        label: Some(label),
    }
    .node()
}

/// `choose_method`: the address field and Continue (+ the CSRF token for browser flows).
pub fn choose_method_ui(
    action: &str,
    method: Method,
    csrf: Option<&str>,
    phone_allowed: bool,
) -> Ui {
    let mut nodes = Vec::new();
    if method == Method::Link {
        // The link strategy upserts the CSRF node first, even on api flows.
        nodes.push(csrf_node(csrf.unwrap_or("")));
    }
    nodes.push(address_input(method, phone_allowed, None));
    nodes.push(submit(
        "method",
        method.as_str(),
        method.as_str(),
        text::label_continue(),
    ));
    if method == Method::Code
        && let Some(token) = csrf
    {
        nodes.push(csrf_node(token));
    }
    Ui {
        action: action.into(),
        method: "POST".into(),
        nodes,
        messages: Vec::new(),
    }
}

/// `sent_email`: code field, Continue, and a Resend button carrying the address.
pub fn sent_ui(
    action: &str,
    method: Method,
    csrf: Option<&str>,
    address: &str,
    via: Via,
    phone_allowed: bool,
) -> Ui {
    if method == Method::Link {
        let mut ui = choose_method_ui(action, method, csrf, phone_allowed);
        ui.set_value("email", json!(address));
        ui.messages = vec![text::verification_link_sent()];
        return ui;
    }
    let mut nodes = vec![
        Input {
            name: "method",
            kind: "hidden",
            group: "code",
            value: Some(json!("code")),
            required: false,
            autocomplete: None,
            label: None,
        }
        .node(),
        Input {
            name: "code",
            kind: "text",
            group: "code",
            value: Some(json!("")),
            required: true,
            autocomplete: Some("one-time-code"),
            label: Some(text::label_verification_code()),
        }
        .node(),
        submit("method", "code", "code", text::label_continue()),
    ];
    if let Some(token) = csrf {
        nodes.push(csrf_node(token));
    }
    nodes.push(submit("email", address, "code", text::label_resend_code()));
    let message = match via {
        Via::Email => text::verification_code_sent_email(),
        Via::Sms => text::verification_code_sent_sms(),
    };
    Ui {
        action: action.into(),
        method: "POST".into(),
        nodes,
        messages: vec![message],
    }
}

/// `passed_challenge`: a GET form whose action is the continue URL, with a Continue anchor.
pub fn success_ui(continue_url: &str, method: Method, csrf: Option<&str>, via: Via) -> Ui {
    let message = match via {
        Via::Email => text::verification_email_verified(),
        Via::Sms => text::verification_phone_verified(),
    };
    Ui {
        action: continue_url.into(),
        method: "GET".into(),
        nodes: vec![
            csrf_node(csrf.unwrap_or("")),
            anchor(
                method.as_str(),
                continue_url,
                text::label_continue(),
                "continue",
            ),
        ],
        messages: vec![message],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ui: &Ui) -> Vec<(String, String)> {
        ui.nodes
            .iter()
            .map(|n| {
                let a = &n.attributes;
                (
                    a.get("name")
                        .or(a.get("id"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_owned(),
                    a.get("type")
                        .or(a.get("node_type"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn code_choose_method_matches_kratos_order() {
        let ui = choose_method_ui("A", Method::Code, Some("t"), false);
        let expected = [
            ("email", "email"),
            ("method", "submit"),
            ("csrf_token", "hidden"),
        ];
        assert_eq!(
            names(&ui),
            expected.map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(ui.nodes[0].meta.label.as_ref().unwrap().id, 1070007);
        assert!(ui.messages.is_empty());
        assert_eq!(
            choose_method_ui("A", Method::Code, None, false).nodes.len(),
            2,
            "api flows carry no csrf node"
        );
    }

    #[test]
    fn code_sent_matches_kratos_order() {
        let ui = sent_ui("A", Method::Code, Some("t"), "a@b.io", Via::Email, false);
        let expected = [
            ("method", "hidden"),
            ("code", "text"),
            ("method", "submit"),
            ("csrf_token", "hidden"),
            ("email", "submit"),
        ];
        assert_eq!(
            names(&ui),
            expected.map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(ui.messages[0].id, 1080003);
        assert_eq!(ui.nodes[4].attributes["value"], "a@b.io");
        assert_eq!(ui.nodes[4].meta.label.as_ref().unwrap().id, 1070008);
        assert_eq!(
            sent_ui("A", Method::Code, None, "+4915112345678", Via::Sms, true).messages[0].id,
            1080004
        );
    }

    #[test]
    fn success_is_a_get_form_with_continue() {
        let ui = success_ui("http://app/", Method::Code, None, Via::Email);
        assert_eq!(ui.method, "GET");
        assert_eq!(ui.action, "http://app/");
        assert_eq!(ui.nodes[1].attributes["href"], "http://app/");
        assert_eq!(ui.messages[0].id, 1080002);
    }
}
