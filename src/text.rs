//! UI messages with Kratos's stable ids. The UI keys off the id; the text
//! is the English default.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextType {
    Info,
    Error,
    Success,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub id: u32,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: TextType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

pub(crate) fn info(id: u32, text: &str) -> Text {
    Text {
        id,
        text: text.into(),
        kind: TextType::Info,
        context: None,
    }
}

pub(crate) fn error(id: u32, text: impl Into<String>, context: Option<Value>) -> Text {
    Text {
        id,
        text: text.into(),
        kind: TextType::Error,
        context,
    }
}

// Node labels (1070xxx).
pub fn label_email() -> Text {
    info(1070007, "Email")
}
pub fn label_resend_code() -> Text {
    info(1070008, "Resend code")
}
pub fn label_continue() -> Text {
    info(1070009, "Continue")
}
pub fn label_verification_code() -> Text {
    info(1070011, "Verification code")
}
pub fn label_email_or_phone() -> Text {
    info(1070018, "Email or phone number")
}

// Verification (1080xxx, 4070xxx).
pub fn verification_link_sent() -> Text {
    info(
        1080001,
        "An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
    )
}
pub fn verification_email_verified() -> Text {
    Text {
        kind: TextType::Success,
        ..info(1080002, "You successfully verified your email address.")
    }
}
pub fn verification_code_sent_email() -> Text {
    info(
        1080003,
        "An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.",
    )
}
pub fn verification_code_sent_sms() -> Text {
    info(
        1080004,
        "A text message containing a verification code has been sent to the phone number you provided. If you have not received a text message, check the spelling of the number and make sure to use the number you registered with.",
    )
}
pub fn verification_phone_verified() -> Text {
    Text {
        kind: TextType::Success,
        ..info(1080005, "You successfully verified your phone number.")
    }
}
pub fn verification_token_invalid() -> Text {
    error(
        4070001,
        "The verification token is invalid or has already been used. Please retry the flow.",
        None,
    )
}
pub fn verification_already_done() -> Text {
    error(
        4070002,
        "The request was already completed successfully and can not be retried.",
        None,
    )
}
/// 4070005: `minutes` since the flow (or code) expired, printed with two decimals.
pub fn verification_expired(
    expired_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Text {
    let minutes = (now - expired_at).num_milliseconds().max(0) as f64 / 60_000.0;
    error(
        4070005,
        format!("The verification flow expired {minutes:.2} minutes ago, please try again."),
        Some(json!({"expired_at": expired_at, "expired_at_unix": expired_at.timestamp()})),
    )
}
pub fn verification_code_invalid() -> Text {
    error(
        4070006,
        "The verification code is invalid or has already been used. Please try again.",
        None,
    )
}
pub fn no_strategy_verification() -> Text {
    error(
        4010006,
        "Could not find a strategy to verify your account with. Did you fill out the form correctly?",
        None,
    )
}

// Generic validation (4000xxx).
pub fn reason(text: impl Into<String>) -> Text {
    let text = text.into();
    error(4000001, text.clone(), Some(json!({"reason": text})))
}
pub fn missing_property(property: &str) -> Text {
    error(
        4000002,
        format!("Property {property} is missing."),
        Some(json!({"property": property})),
    )
}
pub fn invalid_email(value: &str) -> Text {
    error(
        4000040,
        "Enter a valid email address",
        Some(json!({"value": value})),
    )
}
pub fn invalid_phone(value: &str) -> Text {
    error(
        4000041,
        "Enter a valid phone number",
        Some(json!({"value": value})),
    )
}
pub fn submitted_too_often() -> Text {
    reason("The request was submitted too often. Please request another code.")
}
pub fn code_already_used() -> Text {
    reason("The code was already used. Please request another code.")
}
pub fn too_many_sends() -> Text {
    reason("Too many codes were requested in this flow. Please start again to receive a new code.")
}
/// "The request was already completed successfully and can not be retried." under the id
/// of the flow that was completed (4040002 registration, 4070002 verification).
pub fn verification_already_done_as(id: u32) -> Text {
    Text {
        id,
        ..verification_already_done()
    }
}

mod codes;
pub use codes::*;
