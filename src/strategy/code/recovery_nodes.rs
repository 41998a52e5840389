//! The nodes of the code strategy in recovery and in sign-in by code, in Kratos's order: the
//! address form, the code form (with a Resend button carrying the address), and the code
//! input itself, whose shape follows the configured code.

use serde_json::json;

use super::nodes::{address_input, submit};
use crate::config::{CodeAlphabet, EffectiveCode};
use crate::flow::core::Method;
use crate::flow::core::ui::{Input, Node, Ui, csrf_node};
use crate::text::{self, Text};

/// The code field: required, `autocomplete=one-time-code`, and for numeric codes Kratos's
/// `pattern` and `maxlength`.
pub fn code_input(code: &EffectiveCode, label: Text) -> Node {
    let mut node = Input {
        name: "code",
        kind: "text",
        group: "code",
        value: None,
        required: true,
        autocomplete: Some("one-time-code"),
        label: Some(label),
    }
    .node();
    if code.alphabet == CodeAlphabet::Numeric {
        node.attributes.insert("pattern".into(), json!("[0-9]+"));
    }
    node.attributes
        .insert("maxlength".into(), json!(code.length));
    node
}

fn ui(action: &str, nodes: Vec<Node>, messages: Vec<Text>) -> Ui {
    Ui {
        action: action.into(),
        method: "POST".into(),
        nodes,
        messages,
    }
}

/// Recovery's `choose_method`: the CSRF token, the email field, Continue.
pub fn recovery_choose_ui(action: &str, method: Method, csrf: Option<&str>) -> Ui {
    let mut nodes = Vec::new();
    if let Some(token) = csrf {
        nodes.push(csrf_node(token));
    }
    let mut email = address_input(Method::Link, false, None);
    email.group = method.as_str().into();
    nodes.push(email);
    nodes.push(submit(
        "method",
        method.as_str(),
        method.as_str(),
        text::label_continue(),
    ));
    ui(action, nodes, Vec::new())
}

/// Recovery's `sent_email`. Code: the code field, Continue, and Resend carrying `address`
/// (none for a code an administrator issued). Link: the address form again, filled in.
pub fn recovery_sent_ui(
    action: &str,
    method: Method,
    csrf: Option<&str>,
    address: Option<&str>,
    code: &EffectiveCode,
) -> Ui {
    if method == Method::Link {
        let mut ui = recovery_choose_ui(action, method, csrf);
        if let Some(a) = address {
            ui.set_value("email", json!(a));
        }
        ui.messages = vec![text::recovery_link_sent()];
        return ui;
    }
    let mut nodes = Vec::new();
    if let Some(token) = csrf {
        nodes.push(csrf_node(token));
    }
    nodes.push(code_input(code, text::label_recovery_code()));
    nodes.push(
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
    );
    nodes.push(submit("method", "code", "code", text::label_continue()));
    if let Some(a) = address {
        nodes.push(submit("email", a, "code", text::label_resend_code()));
    }
    ui(action, nodes, vec![text::recovery_code_sent()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GoDuration;

    fn code() -> EffectiveCode {
        EffectiveCode {
            length: 6,
            alphabet: CodeAlphabet::Numeric,
            lifespan: GoDuration::from_secs(900),
            max_submissions: 5,
            failures_per_address_day: None,
            short: false,
        }
    }

    fn names(ui: &Ui) -> Vec<String> {
        ui.nodes
            .iter()
            .map(|n| {
                format!(
                    "{}:{}",
                    n.attributes["name"].as_str().unwrap_or(""),
                    n.attributes["type"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn recovery_forms_follow_kratos_order() {
        let choose = recovery_choose_ui("A", Method::Code, Some("t"));
        assert_eq!(
            names(&choose),
            ["csrf_token:hidden", "email:email", "method:submit"]
        );
        assert_eq!(choose.nodes[1].group, "code");
        let sent = recovery_sent_ui("A", Method::Code, Some("t"), Some("a@x.io"), &code());
        assert_eq!(
            names(&sent),
            [
                "csrf_token:hidden",
                "code:text",
                "method:hidden",
                "method:submit",
                "email:submit"
            ]
        );
        assert_eq!(sent.messages[0].id, 1060003);
        let c = &sent.nodes[1];
        assert_eq!(c.meta.label.as_ref().unwrap().id, 1070010);
        assert_eq!(c.attributes["autocomplete"], "one-time-code");
        assert_eq!(c.attributes["pattern"], "[0-9]+");
        assert_eq!(c.attributes["maxlength"], 6);
        let admin = recovery_sent_ui("A", Method::Code, None, None, &code());
        assert_eq!(admin.nodes.len(), 3, "no csrf, no resend");
    }

    #[test]
    fn link_recovery_shows_the_address_form_again() {
        let sent = recovery_sent_ui("A", Method::Link, Some("t"), Some("a@x.io"), &code());
        assert_eq!(sent.messages[0].id, 1060002);
        assert_eq!(sent.nodes[1].attributes["value"], "a@x.io");
        assert_eq!(sent.nodes[2].attributes["value"], "link");
    }
}
