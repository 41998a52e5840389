//! The code strategy: one-time codes (and, for the link strategy, link tokens) minted from the
//! OS CSPRNG, stored only as an HMAC bound to their flow, sent in the same transaction as the
//! flow's new state, and used at most once with the attempts counted first. Verification,
//! recovery and sign-in by code all send and check their codes through here.

pub mod login;
pub mod nodes;
pub mod recovery_nodes;
mod settle;
use settle::settle;
pub use settle::{CodeFlow, Miss, Proved};

use chrono::{DateTime, Utc};
use rand::RngExt;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::config::CodeAlphabet;
use serde_json::{Map, Value};

use crate::flow::core::{Flow, FlowDeps, FlowError, Method, Request, Secret, enforce, take_string};
use crate::persistence::OutboxMessage;
use crate::persistence::challenges::{CodeUse, NewChallenge, SendChallenge, SendResult, UseCode};
use crate::ratelimit::Rule;
use crate::schema::Via;

/// The fields of a code submission: an address to send a code to, or the code received.
#[derive(Debug, Default)]
pub struct CodeFields {
    pub email: Option<String>,
    pub code: Option<Secret>,
}

impl CodeFields {
    pub fn take(fields: &mut Map<String, Value>) -> Self {
        Self {
            email: take_string(fields, "email"),
            code: Secret::take(fields, "code").filter(|c| !c.expose().is_empty()),
        }
    }
}

/// The HMAC purpose of every challenge; the flow id in the MAC input binds it to one flow.
const HMAC_PURPOSE: &str = "verification";
const LINK_TOKEN_LEN: usize = 32;

fn secret_input(flow: Uuid, secret: &str) -> Vec<u8> {
    format!("{flow}:{secret}").into_bytes()
}

/// A code from the OS CSPRNG; `random_range` rejects instead of reducing modulo, so digits
/// are uniform.
pub fn generate_code(length: usize, alphabet: CodeAlphabet) -> String {
    const NUMERIC: &[u8] = b"0123456789";
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars = match alphabet {
        CodeAlphabet::Numeric => NUMERIC,
        CodeAlphabet::Alphanumeric => ALNUM,
    };
    pick(chars, length)
}

/// A link token: 32 characters of 62, about 190 bits.
pub fn generate_token() -> String {
    pick(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        LINK_TOKEN_LEN,
    )
}

fn pick(chars: &[u8], length: usize) -> String {
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    (0..length)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

/// A freshly minted secret, before it is stored (as a MAC) and sent (in a message).
pub struct Minted {
    pub method: Method,
    secret: String,
    pub expires_at: DateTime<Utc>,
    pub lifespan_minutes: u64,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("method", &self.method)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Minted {
    /// The secret, for the message that carries it.
    pub fn expose(&self) -> &str {
        &self.secret
    }
}

/// Whom a challenge is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target {
    /// The address's owner is known: only then does the stored MAC match the sent secret.
    pub known: bool,
    /// Whom using the code proves (recovery, sign-in by code).
    pub identity_id: Option<Uuid>,
    /// The verifiable address that becomes verified when the code is used.
    pub address_id: Option<Uuid>,
}

/// Mints a code (or, for `Method::Link`, a link token) with its configured lifetime.
pub fn mint(deps: &FlowDeps, method: Method, now: DateTime<Utc>) -> Minted {
    let (secret, lifespan) = match method {
        Method::Link => (
            generate_token(),
            deps.settings.selfservice.methods.link.config.lifespan,
        ),
        _ => {
            let cfg = code_config(deps);
            (generate_code(cfg.length, cfg.alphabet), cfg.lifespan)
        }
    };
    Minted {
        method,
        secret,
        expires_at: now + lifespan.chrono(),
        lifespan_minutes: lifespan.whole_minutes(),
    }
}

fn max_sends(deps: &FlowDeps) -> i32 {
    i32::try_from(deps.settings.selfservice.methods.code.config.max_resends).unwrap_or(i32::MAX)
}

/// The code settings in force: short codes (opted into) get fewer tries and a shorter life.
pub fn code_config(deps: &FlowDeps) -> crate::config::EffectiveCode {
    deps.settings.selfservice.methods.code.config.effective()
}

fn max_submissions(deps: &FlowDeps) -> i32 {
    i32::try_from(code_config(deps).max_submissions).unwrap_or(i32::MAX)
}

/// Whether `submitted` has the shape of what `method` sends (the configured length and
/// alphabet for codes, a link token's for links). A code of another shape is refused before
/// it is compared, so it spends no attempt.
pub fn well_formed(deps: &FlowDeps, method: Method, submitted: &str) -> bool {
    let s = submitted.trim();
    match method {
        Method::Link => s.len() == LINK_TOKEN_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()),
        _ => {
            let cfg = code_config(deps);
            let alphabet_ok = match cfg.alphabet {
                CodeAlphabet::Numeric => s.bytes().all(|b| b.is_ascii_digit()),
                CodeAlphabet::Alphanumeric => s.bytes().all(|b| b.is_ascii_alphanumeric()),
            };
            s.chars().count() == cfg.length && alphabet_ok
        }
    }
}

/// The form message for a code of the wrong shape.
pub fn malformed_message(deps: &FlowDeps) -> crate::text::Text {
    let cfg = code_config(deps);
    let what = match cfg.alphabet {
        CodeAlphabet::Numeric => "digits",
        CodeAlphabet::Alphanumeric => "letters and digits",
    };
    crate::text::reason(format!(
        "The code has {} {what}. Please enter it as you received it.",
        cfg.length
    ))
}

/// Whether `flow` may send again.
pub fn sends_left(deps: &FlowDeps, flow: &Flow) -> bool {
    flow.challenge.send_count < max_sends(deps)
}

/// Stores the challenge, the flow in its new state (`code_sent` already applied) and the
/// message, in one transaction. For an unknown address the stored MAC is of a random token
/// longer than any code, so nothing submitted can ever match it, while both paths write the
/// same rows and take the same time.
pub async fn commit(
    deps: &FlowDeps,
    flow: &Flow,
    minted: &Minted,
    target: Target,
    message: Option<OutboxMessage>,
    now: DateTime<Utc>,
) -> Result<SendResult, FlowError> {
    let decoy;
    let mac_input = if target.known {
        minted.expose()
    } else {
        decoy = generate_token();
        &decoy
    };
    let via = flow.challenge.via.unwrap_or(Via::Email);
    let challenge = NewChallenge {
        id: Uuid::new_v4(),
        method: minted.method.as_str(),
        secret_hmac: deps
            .keyring
            .sign_hex(HMAC_PURPOSE, &secret_input(flow.id, mac_input)),
        identity_id: target.identity_id,
        verifiable_address_id: target.address_id,
        via: via.as_str(),
        expires_at: minted.expires_at,
        issued_at: now,
    };
    let record = flow.to_record()?;
    let sent = deps
        .store
        .send_challenge(SendChallenge {
            flow: &record,
            max_sends: max_sends(deps),
            challenge,
            message,
            mark_sent: target.address_id,
            now,
        })
        .await?;
    if sent == SendResult::Sent {
        metrics::counter!("verity_codes_total", "channel" => via.as_str(), "event" => "sent")
            .increment(1);
    }
    Ok(sent)
}

/// `flow` as a wrong code leaves it: its messages replaced by the kind's `invalid` text.
pub fn wrong_code(flow: &Flow, invalid: crate::text::Text) -> Flow {
    let mut wrong = flow.clone();
    wrong.ui.clear_messages();
    wrong.ui.messages = vec![invalid];
    wrong
}

/// What a typed code's flow becomes on each ending: `success` is saved with the code's use;
/// `wrong` is called (and its flow saved) only when no challenge matched; `expired` words
/// the kind's "code expired" message.
pub struct CodeEndings<'a, W, E> {
    pub success: &'a Flow,
    pub wrong: W,
    pub expired: E,
}

/// [`check`] for a typed code, sorted by [`settle`]: the proof, or the miss (a wrong code's
/// flow, built and saved only then, in [`Miss::Wrong`]).
pub async fn check_code<W, E>(
    deps: &FlowDeps,
    flow: &Flow,
    submitted: &str,
    ends: CodeEndings<'_, W, E>,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Result<Proved, Miss>, FlowError>
where
    W: FnOnce() -> Flow,
    E: FnOnce(DateTime<Utc>) -> crate::text::Text,
{
    let used = check(deps, flow, Method::Code, submitted, ends.success, req, now).await?;
    let settled = settle(used, ends.expired, ends.wrong);
    if let Err(Miss::Wrong(wrong)) = &settled {
        // Saved with the guard of every save: a flow another submission passed meanwhile
        // stays passed.
        deps.flows.update(wrong, now).await?;
    }
    Ok(settled)
}

/// Checks a submitted code or token against the flow's challenge. Codes count against the
/// client's per-IP limit and the daily failure budgets of the address (per client, and all
/// clients together): once one is spent no code for the address is compared, right or
/// wrong, across flows and resends; another client keeps its own budget.
pub async fn check(
    deps: &FlowDeps,
    flow: &Flow,
    method: Method,
    submitted: &str,
    success: &Flow,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<CodeUse, FlowError> {
    let address = flow.challenge.sent_to.as_deref();
    if method == Method::Code {
        enforce(&deps.limiter, Rule::SubmitPerIp, &req.client, now).await?;
        if let Some(a) = address
            && let Err(l) = deps.limiter.code_allowed(a, &req.client, now).await?
        {
            let actor = req.actor(flow.id, None, Some(a));
            let reason = "code_failures_per_address";
            crate::audit::event(AuditEvent::LockedOut { reason, actor });
            return Err(FlowError::RateLimited(l.retry_after));
        }
    }
    let candidates = deps
        .keyring
        .candidates_hex(HMAC_PURPOSE, &secret_input(flow.id, submitted.trim()));
    let success = success.to_record()?;
    let result = deps
        .store
        .use_challenge(UseCode {
            flow_id: flow.id,
            method: method.as_str(),
            max_submissions: max_submissions(deps),
            candidates: &candidates,
            on_success: &success,
            now,
        })
        .await?;
    let channel = flow.challenge.via.unwrap_or(Via::Email).as_str();
    audit(flow, &result, req);
    match &result {
        CodeUse::Verified { .. } => {
            metrics::counter!("verity_codes_total", "channel" => channel, "event" => "verified")
                .increment(1);
        }
        other => {
            metrics::counter!("verity_codes_total", "channel" => channel, "event" => "refused")
                .increment(1);
            if matches!(other, CodeUse::NoMatch)
                && method == Method::Code
                && let Some(a) = address
            {
                // Counted here, enforced by the check above.
                deps.limiter.code_failed(a, &req.client, now).await?;
            }
        }
    }
    Ok(result)
}

/// The audit line of a checked code.
fn audit(flow: &Flow, result: &CodeUse, req: &Request) {
    let subject = flow.challenge.sent_to.as_deref();
    let actor = |identity| req.actor(flow.id, identity, subject);
    let event = match result {
        CodeUse::Verified { identity_id, .. } => AuditEvent::AddressVerified(actor(*identity_id)),
        CodeUse::NoMatch => AuditEvent::CodeRejected(actor(None)),
        CodeUse::TooManyAttempts => AuditEvent::LockedOut {
            reason: "attempts_per_code",
            actor: actor(None),
        },
        _ => return,
    };
    crate::audit::event(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_configured_shape() {
        for len in [4, 6, 10] {
            let c = generate_code(len, CodeAlphabet::Numeric);
            assert_eq!(c.len(), len);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let c = generate_code(8, CodeAlphabet::Alphanumeric);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(generate_token().len(), 32);
    }

    #[test]
    fn digits_are_uniform() {
        // Chi-square over 60k digits, 9 degrees of freedom: p < 0.001 above 27.88.
        let mut counts = [0f64; 10];
        for _ in 0..10_000 {
            for b in generate_code(6, CodeAlphabet::Numeric).bytes() {
                counts[(b - b'0') as usize] += 1.0;
            }
        }
        let expected = 6_000.0;
        let chi: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi < 27.88, "chi-square {chi} for {counts:?}");
    }
}
