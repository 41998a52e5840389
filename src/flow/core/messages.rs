//! Kratos's messages for login, registration and settings (1010xxx, 1040xxx, 1050xxx,
//! 4000xxx, 40x0xxx), and the mapping of schema errors to their ids.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::schema::{TraitError, TraitErrorKind};
use crate::text::{Text, TextType, error, info};

pub fn label_sign_in() -> Text {
    info(1010001, "Sign in")
}
/// The password strategy's first-factor submit button (Kratos v26.2).
pub fn label_sign_in_with_password() -> Text {
    info(1010022, "Sign in with password")
}
pub fn label_sign_up() -> Text {
    info(1040001, "Sign up")
}
pub fn label_save() -> Text {
    info(1070003, "Save")
}
pub fn label_password() -> Text {
    info(1070001, "Password")
}
pub fn label_identifier() -> Text {
    info(1070004, "ID")
}
/// A trait's input label: the schema's `title` (or the property name) and the field's name
/// (`traits.email`), as Kratos's generated labels carry them.
pub fn label_trait(title: &str, name: &str) -> Text {
    Text {
        context: Some(json!({"title": title, "name": name})),
        ..info(1070002, title)
    }
}
pub fn settings_saved() -> Text {
    Text {
        kind: TextType::Success,
        ..info(1050001, "Your changes have been saved!")
    }
}
pub fn invalid_credentials() -> Text {
    error(
        4000006,
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
        None,
    )
}
pub fn duplicate_identifier() -> Text {
    error(
        4000007,
        "An account with the same identifier (email, phone, username, ...) exists already.",
        None,
    )
}
pub fn no_identifiers() -> Text {
    error(
        4000009,
        "Could not find any login identifiers. Did you forget to set them? This could also be caused by a server misconfiguration.",
        None,
    )
}
pub fn address_not_verified() -> Text {
    error(
        4000010,
        "Account not active yet. Did you forget to verify your email address?",
        None,
    )
}
pub fn account_disabled() -> Text {
    error(
        4010011,
        "This account has been disabled. Please contact support for assistance.",
        None,
    )
}

/// 4010002 (login), 4010003 (registration), 4010004 (settings).
pub fn no_strategy(id: u32, what: &str) -> Text {
    error(
        id,
        format!("Could not find a strategy to {what}. Did you fill out the form correctly?"),
        None,
    )
}

/// 4010001 (login), 4040001 (registration), 4050001 (settings).
pub fn flow_expired(id: u32, flow: &str, expired_at: DateTime<Utc>, now: DateTime<Utc>) -> Text {
    let minutes = (now - expired_at).num_milliseconds().max(0) as f64 / 60_000.0;
    error(
        id,
        format!("The {flow} flow expired {minutes:.2} minutes ago, please try again."),
        Some(json!({"expired_at": expired_at, "expired_at_unix": expired_at.timestamp()})),
    )
}

/// The message for one schema error, with Kratos's id and context.
pub fn trait_error(e: &TraitError) -> Text {
    match &e.kind {
        TraitErrorKind::Required { property } => crate::text::missing_property(property),
        TraitErrorKind::MinLength { min, actual } => error(
            4000003,
            format!("length must be >= {min}, but got {actual}"),
            Some(json!({"min_length": min, "actual_length": actual})),
        ),
        TraitErrorKind::MaxLength { max, actual } => error(
            4000017,
            format!("length must be <= {max}, but got {actual}"),
            Some(json!({"max_length": max, "actual_length": actual})),
        ),
        TraitErrorKind::Pattern { pattern } => error(
            4000004,
            format!("does not match pattern {pattern:?}"),
            Some(json!({"pattern": pattern})),
        ),
        TraitErrorKind::InvalidEmail { value } => crate::text::invalid_email(value),
        TraitErrorKind::InvalidPhone { value } => crate::text::invalid_phone(value),
        TraitErrorKind::Type { expected, actual } => error(
            4000026,
            format!("expected {expected}, but got {actual}"),
            Some(json!({"allowed_types": [expected], "actual_type": actual})),
        ),
        TraitErrorKind::Other => crate::text::reason(e.message.clone()),
    }
}

/// The node a schema error belongs to: `#/traits/email` → `traits.email`; a missing
/// property is reported on the property itself.
pub fn trait_error_node(e: &TraitError) -> String {
    let mut path = e
        .pointer
        .trim_start_matches('#')
        .trim_start_matches('/')
        .replace('/', ".");
    if let TraitErrorKind::Required { property } = &e.kind {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(property);
    }
    path
}

/// The submit button of a social sign-in provider: 1010002 (login) or 1040002 (registration).
pub fn label_oidc(sign_up: bool, label: &str, provider_id: &str) -> Text {
    let (id, verb) = if sign_up {
        (1040002, "Sign up")
    } else {
        (1010002, "Sign in")
    };
    Text {
        context: Some(json!({"provider": label, "provider_id": provider_id})),
        ..info(id, &format!("{verb} with {label}"))
    }
}

/// 4000028: the provider's address or identifier belongs to another account, which is not
/// linked automatically (that would hand the account to whoever controls the provider).
pub fn oidc_identifier_taken(identifier: &str) -> Text {
    error(
        4000028,
        format!(
            "You tried signing in with {identifier} which is already in use by another account. You can sign in using your password."
        ),
        Some(json!({
            "available_credential_types": ["password"],
            "available_oidc_providers": [],
            "credential_identifier_hint": identifier,
        })),
    )
}

/// A hook failed: the user gets this fixed text; the hook's URL and error go to the log.
pub fn hook_failed() -> Text {
    error(
        5000001,
        "The request could not be completed because a required step failed. Please try again later.",
        None,
    )
}
