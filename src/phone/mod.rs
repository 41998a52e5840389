//! The partner phone-verification API (iDenfy send-sms / verify-sms): API keys with credits,
//! 4-digit SMS codes and the voice-call fallback.

mod admin;
pub mod config;
pub mod keys;
mod schedule;
mod service;

pub use admin::{ApiKey, CreatedKey, PhoneRequestView};
pub use config::{PhoneVerificationConfig, VoiceFallbackConfig};
pub use service::{PhoneError, PhoneService, SendSms, VerifySms, is_e164};
