//! Kratos's password-policy messages, kept beside the
//! policy instead of in `crate::text`.

use serde_json::json;

use crate::text::{Text, TextType};

fn error(id: u32, text: String, context: serde_json::Value) -> Text {
    Text {
        id,
        text,
        kind: TextType::Error,
        context: Some(context),
    }
}

/// 4000031: the password is too similar to one of the identity's identifiers.
pub fn password_too_similar() -> Text {
    Text {
        id: 4000031,
        text: "The password can not be used because it is too similar to the identifier.".into(),
        kind: TextType::Error,
        context: None,
    }
}

/// 4000032: shorter than the configured minimum (both counted in code points).
pub fn password_too_short(min_length: usize, actual_length: usize) -> Text {
    error(
        4000032,
        format!(
            "The password must be at least {min_length} characters long, but got {actual_length}."
        ),
        json!({"min_length": min_length, "actual_length": actual_length}),
    )
}

/// 4000033: longer than the cap (both counted in bytes: the cap protects the hasher).
pub fn password_too_long(max_length: usize, actual_length: usize) -> Text {
    error(
        4000033,
        format!(
            "The password must be at most {max_length} characters long, but got {actual_length}."
        ),
        json!({"max_length": max_length, "actual_length": actual_length}),
    )
}

/// 4000034: the password is on the bundled list of common (breached) passwords. The list
/// carries no breach counts, so `breaches` is 1, meaning "at least one".
pub fn password_breached() -> Text {
    error(
        4000034,
        "The password has been found in data breaches and must no longer be used.".into(),
        json!({"breaches": 1}),
    )
}
