//! What to do after a failed attempt: retry later (exponential backoff with jitter, at least
//! `Retry-After`), or give up (permanent error, retries used up, or the content expired).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngExt;

use crate::persistence::AttemptResult;

/// Why a send failed, as the transports classify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying: connection refused, timeouts, SMTP 4xx, HTTP 429 and 5xx.
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help: SMTP 5xx, HTTP 4xx, a rejected recipient, a broken message.
    Permanent { error: String },
}

impl SendError {
    pub fn transient(error: impl Into<String>) -> Self {
        Self::Transient {
            error: error.into(),
            retry_after: None,
        }
    }
    pub fn permanent(error: impl Into<String>) -> Self {
        Self::Permanent {
            error: error.into(),
        }
    }
    pub fn message(&self) -> &str {
        match self {
            Self::Transient { error, .. } | Self::Permanent { error } => error,
        }
    }
}

pub const BASE_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// A `Retry-After` longer than this is capped (a gateway should not park a message for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The delay before attempt `attempts + 1`, given `attempts` failures so far (≥ 1):
/// 1 s, 2 s, 4 s … capped at 5 min, of which the upper half is random ("equal jitter"), so
/// messages that failed together do not retry together.
pub fn delay(attempts: u32, jitter: f64) -> Duration {
    let exp = BASE_DELAY.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let full = exp.min(MAX_DELAY);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The stored outcome of a failed attempt. `attempts` counts this one. Messages with an
/// expiry (they carry a code) are retried until the code dies and then marked `expired`;
/// others are abandoned once `max_retries` retries have failed (Kratos's `message_retries`).
pub fn after_failure(
    err: &SendError,
    attempts: u32,
    max_retries: u32,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AttemptResult {
    let (error, retry_after) = match err {
        SendError::Permanent { error } => {
            return AttemptResult::Abandon {
                error: error.clone(),
            };
        }
        SendError::Transient { error, retry_after } => (error.clone(), *retry_after),
    };
    let mut wait = delay(attempts, rand::rng().random::<f64>());
    if let Some(ra) = retry_after {
        wait = wait.max(ra.min(MAX_RETRY_AFTER));
    }
    let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    match expires_at {
        Some(exp) if next >= exp => AttemptResult::Expire { error },
        Some(_) => AttemptResult::Retry {
            error,
            next_attempt_at: next,
        },
        None if attempts > max_retries => AttemptResult::Abandon {
            error: format!("gave up after {attempts} attempts: {error}"),
        },
        None => AttemptResult::Retry {
            error,
            next_attempt_at: next,
        },
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn delays_grow_exponentially_with_bounded_jitter() {
        assert_eq!(delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(delay(4, 1.0), Duration::from_secs(8));
        assert_eq!(delay(4, 0.0), Duration::from_secs(4));
        assert_eq!(delay(30, 1.0), MAX_DELAY);
        assert_eq!(delay(u32::MAX, 1.0), MAX_DELAY);
        for n in 1..12 {
            assert!(delay(n + 1, 0.0) >= delay(n, 0.0));
        }
    }

    #[test]
    fn permanent_errors_abandon_at_once() {
        let r = after_failure(&SendError::permanent("550 no such user"), 1, 5, None, t0());
        assert_eq!(
            r,
            AttemptResult::Abandon {
                error: "550 no such user".into()
            }
        );
    }

    #[test]
    fn transient_errors_retry_until_retries_are_used_up() {
        let e = SendError::transient("421 try later");
        let AttemptResult::Retry {
            next_attempt_at, ..
        } = after_failure(&e, 1, 5, None, t0())
        else {
            panic!("expected a retry")
        };
        let wait = next_attempt_at - t0();
        assert!(
            wait >= chrono::Duration::milliseconds(500) && wait <= chrono::Duration::seconds(1)
        );
        assert!(matches!(
            after_failure(&e, 5, 5, None, t0()),
            AttemptResult::Retry { .. }
        ));
        assert!(matches!(
            after_failure(&e, 6, 5, None, t0()),
            AttemptResult::Abandon { .. }
        ));
    }

    #[test]
    fn messages_with_an_expiry_retry_until_it_and_then_expire() {
        let e = SendError::transient("connection refused");
        let exp = t0() + chrono::Duration::minutes(10);
        assert!(matches!(
            after_failure(&e, 50, 5, Some(exp), t0()),
            AttemptResult::Retry { .. }
        ));
        let late = exp - chrono::Duration::milliseconds(100);
        assert!(matches!(
            after_failure(&e, 2, 5, Some(exp), late),
            AttemptResult::Expire { .. }
        ));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let e = SendError::Transient {
            error: "429".into(),
            retry_after: Some(Duration::from_secs(120)),
        };
        let AttemptResult::Retry {
            next_attempt_at, ..
        } = after_failure(&e, 1, 5, None, t0())
        else {
            panic!()
        };
        assert_eq!(next_attempt_at - t0(), chrono::Duration::seconds(120));
        let huge = SendError::Transient {
            error: "429".into(),
            retry_after: Some(Duration::from_secs(86400 * 3)),
        };
        let AttemptResult::Retry {
            next_attempt_at, ..
        } = after_failure(&huge, 1, 5, None, t0())
        else {
            panic!()
        };
        assert_eq!(next_attempt_at - t0(), chrono::Duration::hours(1));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after("7", t0()), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", t0()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", t0()), None);
    }
}
