//! Sign-in by code (`selfservice.methods.code.passwordless_enabled`): the fields of a code
//! submission to the login flow and its nodes in Kratos's order.

use serde_json::{Map, Value, json};

use super::nodes::submit;
use super::recovery_nodes::code_input;
use crate::config::EffectiveCode;
use crate::flow::core::ui::{Input, Node, Ui, csrf_node};
use crate::flow::core::{Secret, take_string};
use crate::text::{self, Text};

/// `method=code` on the login flow: the identifier to send a code to, the code received, or
/// `resend=code` for a new one.
#[derive(Debug, Default)]
pub struct LoginCodeFields {
    pub identifier: Option<String>,
    pub code: Option<Secret>,
    pub resend: bool,
}

impl LoginCodeFields {
    pub fn take(fields: &mut Map<String, Value>) -> Self {
        Self {
            identifier: take_string(fields, "identifier").filter(|i| !i.trim().is_empty()),
            code: Secret::take(fields, "code").filter(|c| !c.expose().is_empty()),
            resend: take_string(fields, "resend").is_some_and(|r| r == "code"),
        }
    }
}

/// The "Send sign in code" button of the sign-in form (1010015).
pub fn send_code_button() -> Node {
    submit("method", "code", "code", text::label_send_login_code())
}

/// `sent_email`: the identifier kept (hidden), the code field, Continue and Resend.
pub fn login_sent_ui(
    action: &str,
    csrf: Option<&str>,
    identifier: &str,
    label: Text,
    code: &EffectiveCode,
) -> Ui {
    let mut nodes = Vec::new();
    if let Some(t) = csrf {
        nodes.push(csrf_node(t));
    }
    let mut id = Input {
        name: "identifier",
        kind: "hidden",
        group: "default",
        value: Some(json!(identifier)),
        required: true,
        autocomplete: None,
        label: Some(label),
    }
    .node();
    id.group = "default".into();
    nodes.push(id);
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
    nodes.push(code_input(code, text::label_login_code()));
    nodes.push(submit("method", "code", "code", text::label_continue()));
    nodes.push(submit("resend", "code", "code", text::label_resend_code()));
    Ui {
        action: action.into(),
        method: "POST".into(),
        nodes,
        messages: vec![text::login_code_sent()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_take_resend_and_code() {
        let Value::Object(mut m) = json!({"identifier": "a@x.io", "resend": "code", "code": ""})
        else {
            unreachable!()
        };
        let f = LoginCodeFields::take(&mut m);
        assert!(f.resend && f.code.is_none());
        assert_eq!(f.identifier.as_deref(), Some("a@x.io"));
    }
}
