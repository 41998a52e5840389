//! `phone_verification`: the partner phone-verification API (iDenfy send-sms / verify-sms).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::GoDuration;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneVerificationConfig {
    /// Sender shown when a request names none (at most 11 characters).
    pub default_sender_name: String,
    /// How long the SMS code is valid ("Valid for 5 minutes").
    pub code_lifespan: GoDuration,
    /// Wrong codes allowed per code; the next attempt answers false.
    pub max_attempts: u32,
    /// The voice-call fallback (seed 002).
    pub voice_fallback: VoiceFallbackConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceFallbackConfig {
    pub enabled: bool,
    /// Unconfirmed after this long, the same code is read out by a call; it stays valid until
    /// `code_lifespan` ends.
    pub first_call_after: GoDuration,
    /// When the first code expires, a second call brings a new code valid this long.
    pub second_code_lifespan: GoDuration,
    /// How often the background task looks for due steps.
    pub poll_interval: GoDuration,
}

impl Default for PhoneVerificationConfig {
    fn default() -> Self {
        Self {
            default_sender_name: "Verity".into(),
            code_lifespan: GoDuration::from_secs(300),
            max_attempts: 3,
            voice_fallback: VoiceFallbackConfig::default(),
        }
    }
}

impl Default for VoiceFallbackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            first_call_after: GoDuration::from_secs(120),
            second_code_lifespan: GoDuration::from_secs(300),
            poll_interval: GoDuration::from_secs(5),
        }
    }
}
