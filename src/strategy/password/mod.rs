//! The password method: its form nodes and fields, and the sign-in check (`login.rs`).
//! Hashing and the password policy live in `crate::hash` and `crate::password`.

mod login;

pub use login::{Authenticator, identifier_keys};

use serde_json::{Map, Value, json};

use crate::flow::core::messages;
use crate::flow::core::ui::{Input, Node};
use crate::flow::core::{Secret, take_string};

/// The fields of a password submission; `rest` keeps the others (a sign-up's traits).
#[derive(Debug, Default)]
pub struct PasswordFields {
    pub identifier: Option<String>,
    pub password: Option<Secret>,
    pub rest: Map<String, Value>,
}

impl PasswordFields {
    pub fn take(mut fields: Map<String, Value>) -> Self {
        Self {
            identifier: take_string(&mut fields, "identifier"),
            password: Secret::take(&mut fields, "password"),
            rest: fields,
        }
    }

    /// The password NFKC-normalised, or `None` when it is missing or empty.
    pub fn normalized_password(&self) -> Option<String> {
        self.password
            .as_ref()
            .map(Secret::expose)
            .filter(|p| !p.is_empty())
            .map(crate::password::normalize)
    }
}

/// The sign-in form's identifier field (hidden and fixed on a refresh). Kratos sends no
/// autocomplete on it.
/// The login identifier: a text field labelled as the schema says (`label`), or, when the
/// flow re-authenticates a known identity, a hidden field without label, as Kratos sends it.
pub fn identifier_node(identifier: Option<&str>, label: crate::text::Text) -> Node {
    Input {
        name: "identifier",
        kind: if identifier.is_some() {
            "hidden"
        } else {
            "text"
        },
        group: "default",
        value: Some(json!(identifier.unwrap_or(""))),
        required: identifier.is_none(),
        autocomplete: None,
        label: identifier.is_none().then_some(label),
    }
    .node()
}

/// The password input: `current-password` for sign-in, `new-password` otherwise. Not
/// `required` in settings, where a UI that renders both groups in one form must be able to
/// save the profile with the password left empty.
pub fn password_node(sign_in: bool, required: bool) -> Node {
    Input {
        name: "password",
        kind: "password",
        group: "password",
        value: None,
        required,
        autocomplete: Some(if sign_in {
            "current-password"
        } else {
            "new-password"
        }),
        label: Some(messages::label_password()),
    }
    .node()
}

/// A `method` submit button of `group` with `label`.
pub fn submit_node(group: &str, label: crate::text::Text) -> Node {
    Input {
        name: "method",
        kind: "submit",
        group,
        value: Some(json!(group)),
        required: false,
        autocomplete: None,
        label: Some(label),
    }
    .node()
}
