//! Messages of recovery (1060xxx, 4060xxx) and of sign-in by code (1010014, 1010015,
//! 1070013, 4010008), with Kratos's ids and English texts.

use serde_json::json;

use super::{Text, TextType, error, info};

pub fn label_recovery_code() -> Text {
    info(1070010, "Recovery code")
}
pub fn label_login_code() -> Text {
    info(1070013, "Login code")
}

/// 1060001: shown on the settings flow recovery opens, with the privileged session's end.
pub fn recovery_successful(
    privileged_until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Text {
    let minutes = (privileged_until - now).num_milliseconds().max(0) as f64 / 60_000.0;
    Text {
        kind: TextType::Success,
        context: Some(json!({
            "privilegedSessionExpiresAt": privileged_until,
            "privileged_session_expires_at": privileged_until,
            "privileged_session_expires_at_unix": privileged_until.timestamp(),
        })),
        ..info(
            1060001,
            &format!(
                "You successfully recovered your account. Please change your password or set up an alternative login method (e.g. social sign in) within the next {minutes:.2} minutes."
            ),
        )
    }
}
pub fn recovery_link_sent() -> Text {
    info(
        1060002,
        "An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
    )
}
pub fn recovery_code_sent() -> Text {
    info(
        1060003,
        "An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
    )
}
pub fn recovery_already_done() -> Text {
    error(
        4060001,
        "The request was already completed successfully and can not be retried.",
        None,
    )
}
pub fn recovery_token_invalid() -> Text {
    error(
        4060004,
        "The recovery token is invalid or has already been used. Please retry the flow.",
        None,
    )
}
/// 4060005: `minutes` since the flow (or code) expired.
pub fn recovery_expired(
    expired_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Text {
    let minutes = (now - expired_at).num_milliseconds().max(0) as f64 / 60_000.0;
    error(
        4060005,
        format!("The recovery flow expired {minutes:.2} minutes ago, please try again."),
        Some(json!({"expired_at": expired_at, "expired_at_unix": expired_at.timestamp()})),
    )
}
pub fn recovery_code_invalid() -> Text {
    error(
        4060006,
        "The recovery code is invalid or has already been used. Please try again.",
        None,
    )
}
pub fn no_strategy_recovery() -> Text {
    error(
        4010005,
        "Could not find a strategy to recover your account with. Did you fill out the form correctly?",
        None,
    )
}

pub fn login_code_sent() -> Text {
    info(
        1010014,
        "A code was sent to the address you provided. If you didn't receive it, please check the spelling of the address and try again.",
    )
}
pub fn label_send_login_code() -> Text {
    info(1010015, "Send sign in code")
}
pub fn login_code_invalid() -> Text {
    error(
        4010008,
        "The login code is invalid or has already been used. Please try again.",
        None,
    )
}
