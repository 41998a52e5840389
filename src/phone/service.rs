//! Send-sms and verify-sms: validation, authentication, rate limits, credits and codes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::config::PhoneVerificationConfig;
use super::keys;
use crate::audit::{Actor, AuditEvent};
use crate::courier::{Channel, Courier, CourierError, OutboxMessage, Sealer, TemplateKind};
use crate::crypto::Keyring;
use crate::delivery::sms_policy::SmsPolicy;
use crate::persistence::phone::{CodeOutcome, NewPhoneRequest, PhoneCodeUse, SendOutcome};
use crate::persistence::{Store, StoreError};
use crate::ratelimit::{RateLimiter, Rule};

pub(super) const CODE_PURPOSE: &str = "phone-api-code";
pub(super) const SEAL_FIELD: &str = "phone_code";
pub const MAX_SENDER_NAME: usize = 11;

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// A request field broke a rule: 400 naming both.
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        rule: &'static str,
        reason: String,
    },
    #[error("wrong or missing API credentials")]
    Unauthorized,
    #[error("no number-verification credits left")]
    NoCredits,
    #[error("rate limit reached")]
    Limited(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Courier(#[from] CourierError),
}

fn invalid(field: &'static str, rule: &'static str, reason: impl Into<String>) -> PhoneError {
    PhoneError::Invalid {
        field,
        rule,
        reason: reason.into(),
    }
}

#[derive(Clone, Debug)]
pub struct PhoneService {
    pub(super) store: Store,
    pub(super) courier: Courier,
    pub(super) keyring: Keyring,
    pub(super) sealer: Sealer,
    pub(super) limiter: RateLimiter,
    pub(super) policy: SmsPolicy,
    pub(super) cfg: Arc<PhoneVerificationConfig>,
}

/// A validated send-sms body.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSms {
    pub phone_number: String,
    pub sender_name: String,
}

/// A validated verify-sms body.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifySms {
    pub request_id: String,
    pub received_code: String,
}

fn string_field<'a>(body: &'a Value, field: &'static str) -> Result<Option<&'a str>, PhoneError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(field, "type", "must be a string")),
    }
}

/// `+` then 7 to 15 digits, the first not 0 (E.164).
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

impl PhoneService {
    pub fn new(
        store: Store,
        courier: Courier,
        keyring: Keyring,
        limiter: RateLimiter,
        policy: SmsPolicy,
        cfg: PhoneVerificationConfig,
    ) -> Self {
        // The courier's keys: derived once at start, and the same ones even when no secret
        // is configured and they are random.
        let sealer = courier.sealer().clone();
        Self {
            store,
            courier,
            keyring,
            sealer,
            limiter,
            policy,
            cfg: Arc::new(cfg),
        }
    }

    pub fn config(&self) -> &PhoneVerificationConfig {
        &self.cfg
    }

    pub fn parse_send(&self, body: &Value) -> Result<SendSms, PhoneError> {
        if !body.is_object() {
            return Err(invalid("body", "type", "must be a JSON object"));
        }
        let phone = string_field(body, "phone_number")?
            .ok_or_else(|| invalid("phone_number", "required", "is required"))?;
        if !is_e164(phone) {
            return Err(invalid(
                "phone_number",
                "e164",
                "must be in E.164 format (+ and country code, e.g. +12025550163)",
            ));
        }
        let sender = match string_field(body, "sender_name")? {
            Some(s) if s.chars().count() > MAX_SENDER_NAME => {
                return Err(invalid(
                    "sender_name",
                    "max_length",
                    format!("must be at most {MAX_SENDER_NAME} characters"),
                ));
            }
            Some(s) if s.chars().any(char::is_control) => {
                return Err(invalid(
                    "sender_name",
                    "pattern",
                    "must not hold control characters",
                ));
            }
            Some(s) if !s.trim().is_empty() => s.to_owned(),
            _ => self.cfg.default_sender_name.clone(),
        };
        Ok(SendSms {
            phone_number: phone.to_owned(),
            sender_name: sender,
        })
    }

    pub fn parse_verify(body: &Value) -> Result<VerifySms, PhoneError> {
        if !body.is_object() {
            return Err(invalid("body", "type", "must be a JSON object"));
        }
        let id = string_field(body, "request_id")?
            .ok_or_else(|| invalid("request_id", "required", "is required"))?;
        if !(32..=40).contains(&id.chars().count()) {
            return Err(invalid(
                "request_id",
                "length",
                "must be 32 to 40 characters long",
            ));
        }
        let code = string_field(body, "received_code")?
            .ok_or_else(|| invalid("received_code", "required", "is required"))?;
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "received_code",
                "length",
                "must be exactly 4 digits",
            ));
        }
        Ok(VerifySms {
            request_id: id.to_owned(),
            received_code: code.to_owned(),
        })
    }

    /// The API key id for basic-auth credentials, or `Unauthorized`.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Uuid, PhoneError> {
        let (key, secret) = header
            .and_then(keys::parse_basic)
            .ok_or(PhoneError::Unauthorized)?;
        let stored = self.store.api_key_auth(&key).await?;
        match stored {
            Some(stored) if keys::secret_matches(&self.keyring, &stored, &secret) => {
                let key_id = stored.id;
                crate::audit::event(AuditEvent::ApiKeyUsed {
                    key_id,
                    actor: Actor::default(),
                });
                Ok(key_id)
            }
            _ => {
                crate::audit::event(AuditEvent::ApiKeyRefused(Actor {
                    subject: Some(&key),
                    ..Actor::default()
                }));
                Err(PhoneError::Unauthorized)
            }
        }
    }

    pub(super) fn code_hmac(&self, request_id: &str, code: &str) -> String {
        self.keyring
            .sign_hex(CODE_PURPOSE, format!("{request_id}:{code}").as_bytes())
    }

    pub(super) fn compose(
        &self,
        channel: Channel,
        to: &str,
        sender: &str,
        code: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, CourierError> {
        let minutes = ((expires_at - now).num_seconds().max(0) + 59) / 60;
        let data =
            json!({"to": to, "code": code, "expires_in_minutes": minutes, "sender_name": sender});
        self.courier.compose(
            channel,
            to,
            TemplateKind::PhoneVerificationCode,
            &data,
            Some(expires_at),
            now,
        )
    }

    /// Sends a code by SMS for `api_key`; answers the request id (32 lowercase hex).
    pub async fn send(
        &self,
        api_key: Uuid,
        req: &SendSms,
        now: DateTime<Utc>,
    ) -> Result<String, PhoneError> {
        let dest = self
            .policy
            .check(Channel::Sms, &req.phone_number)
            .map_err(|r| {
                invalid(
                    "phone_number",
                    "sms_policy",
                    format!(
                        "this number cannot be sent codes ({}); nothing was sent",
                        r.refusal.reason()
                    ),
                )
            })?;
        // The key's and the number's limits and the SMS caps: one statement.
        let key = api_key.to_string();
        let batch = self
            .limiter
            .batch(now)
            .rule(Rule::PhoneApiSendPerKey, &key)
            .rule(Rule::PhoneApiSendPerNumber, &dest.number);
        if let Err(l) = self.policy.caps(&dest, batch).hit().await? {
            let _ = self.policy.cap_refusal(Channel::Sms, &dest, &l);
            return Err(PhoneError::Limited(l.retry_after));
        }
        let uuid = keys::new_request_id();
        let id = uuid.simple().to_string();
        let code = keys::new_code();
        let expires_at = now + self.cfg.code_lifespan.chrono();
        let fallback = &self.cfg.voice_fallback;
        let message = self.compose(
            Channel::Sms,
            &req.phone_number,
            &req.sender_name,
            &code,
            expires_at,
            now,
        )?;
        let row = NewPhoneRequest {
            code_hmac: self.code_hmac(&id, &code),
            code_sealed: fallback
                .enabled
                .then(|| self.sealer.seal(uuid, SEAL_FIELD, code.as_bytes()).0),
            next_step_at: fallback
                .enabled
                .then(|| now + fallback.first_call_after.chrono()),
            id,
            api_key_id: api_key,
            phone_number: req.phone_number.clone(),
            sender_name: req.sender_name.clone(),
            expires_at,
            message,
            now,
        };
        match self.store.send_phone_request(&row).await? {
            SendOutcome::Queued => {
                crate::audit::event(AuditEvent::PhoneCodeSent {
                    key_id: api_key,
                    actor: Actor {
                        subject: Some(&row.phone_number),
                        ..Actor::default()
                    },
                });
                Ok(row.id)
            }
            SendOutcome::NoCredits => Err(PhoneError::NoCredits),
        }
    }

    /// `true` only for the right code of a pending request of this key, in time. Wrong codes
    /// also count against the number's daily budget across its requests; once it is spent
    /// the answer is 429 and no code is checked (even a right one).
    pub async fn verify(
        &self,
        api_key: Uuid,
        req: &VerifySms,
        now: DateTime<Utc>,
    ) -> Result<bool, PhoneError> {
        let Some(number) = self
            .store
            .phone_request_number(&req.request_id, api_key)
            .await?
        else {
            return Ok(false);
        };
        let budget = Rule::PhoneApiFailuresPerNumberDay;
        if let Err(l) = self.limiter.check(budget, &number, now).await? {
            return Err(PhoneError::Limited(l.retry_after));
        }
        let candidates = self.keyring.candidates_hex(
            CODE_PURPOSE,
            format!("{}:{}", req.request_id, req.received_code).as_bytes(),
        );
        let outcome = self
            .store
            .try_phone_code(PhoneCodeUse {
                request_id: &req.request_id,
                api_key_id: api_key,
                candidates: &candidates,
                max_attempts: i32::try_from(self.cfg.max_attempts).unwrap_or(i32::MAX),
                now,
            })
            .await?;
        let actor = Actor {
            subject: Some(&number),
            ..Actor::default()
        };
        match outcome {
            CodeOutcome::Verified => {
                crate::audit::event(AuditEvent::PhoneCodeVerified {
                    key_id: api_key,
                    actor,
                });
            }
            CodeOutcome::Wrong => {
                crate::audit::event(AuditEvent::PhoneCodeRejected {
                    key_id: api_key,
                    actor,
                });
                // The trip, if any, is audited by the limiter; this answer stays `false`.
                let _ = self.limiter.hit(budget, &number, now).await?;
            }
            CodeOutcome::Unusable => {}
        }
        Ok(outcome == CodeOutcome::Verified)
    }
}
