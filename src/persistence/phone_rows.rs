//! Rows and inputs of the partner phone-verification API (see `phone.rs`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::persistence::OutboxMessage;

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub key: String,
    pub credits: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What authenticates a key: its id, the stored secret HMAC and whether it is revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyAuth {
    pub id: Uuid,
    pub secret_hash: String,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One send: spend a credit of `api_key_id`, store the request and queue `message`.
#[derive(Debug)]
pub struct NewPhoneRequest {
    pub id: String,
    pub api_key_id: Uuid,
    pub phone_number: String,
    pub sender_name: String,
    pub code_hmac: String,
    pub code_sealed: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub next_step_at: Option<DateTime<Utc>>,
    pub message: OutboxMessage,
    pub now: DateTime<Utc>,
}

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Queued,
    /// No credit left (or the key was revoked meanwhile): nothing written.
    NoCredits,
}

/// What one verify-sms attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// The right code: the request is verified now.
    Verified,
    /// A wrong code for a pending, unexpired request within its attempts (counted).
    Wrong,
    /// No such request for this key, or it is verified, failed, expired or out of attempts.
    Unusable,
}

/// A verification attempt: the HMACs of the submitted code under every key.
#[derive(Debug)]
pub struct PhoneCodeUse<'a> {
    pub request_id: &'a str,
    pub api_key_id: Uuid,
    pub candidates: &'a [String],
    pub max_attempts: i32,
    pub now: DateTime<Utc>,
}

/// A fallback step that is due, as the schedule reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueStep {
    pub id: String,
    pub phone_number: String,
    pub sender_name: String,
    pub code_sealed: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub step: i32,
}

/// Moves a request from `from_step` to `from_step + 1`, queueing the call.
#[derive(Debug)]
pub struct Advance {
    pub id: String,
    pub from_step: i32,
    /// A new code replaces the old one (and resets the attempt budget).
    pub new_code_hmac: Option<String>,
    pub code_sealed: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub next_step_at: Option<DateTime<Utc>>,
    pub message: OutboxMessage,
    pub now: DateTime<Utc>,
}

/// A request as the operator sees it (no code).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PhoneRequestRow {
    pub id: String,
    pub api_key_id: Uuid,
    pub phone_number: String,
    pub sender_name: String,
    pub expires_at: DateTime<Utc>,
    pub attempts: i32,
    pub status: String,
    pub step: i32,
    pub next_step_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One message of a request's channel history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub request_id: String,
    pub step: i32,
    pub channel: String,
    pub sent_at: DateTime<Utc>,
}
