//! Audit events: one structured log line per security-relevant event (ASVS 5.0 16.3.1 /
//! 16.3.3), under the `verity::audit` target at INFO, with the fields `event`, `outcome`,
//! `flow_id`, `identity_id`, `subject`, `client_ip` and, for some events, `detail`.
//!
//! `subject` is the submitted address or identifier as a keyed hash (HMAC-SHA-256 under the
//! configured secrets, truncated to 128 bits), so one person's events can be correlated across
//! nodes and restarts without any address in the logs. No event carries a code, a token, a
//! password or an API secret: the types below have no field that could hold one.
//!
//! Call it as `audit::event(AuditEvent::LoginFailed(Actor { flow_id: Some(id), subject:
//! Some(&identifier), client_ip: Some(ip), ..Actor::default() }))`.

use std::net::IpAddr;
use std::sync::{OnceLock, RwLock};

use uuid::Uuid;

use crate::crypto::{Keyring, hex};

const SUBJECT_PURPOSE: &str = "audit-subject";
/// Bytes of the MAC kept: 128 bits cannot collide by chance among any real set of subjects.
const SUBJECT_BYTES: usize = 16;

/// Who and where an event concerns; every field is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actor<'a> {
    pub flow_id: Option<Uuid>,
    pub identity_id: Option<Uuid>,
    /// The submitted address or identifier, normalised; only its keyed hash is written.
    pub subject: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

/// Whether the attempt worked, failed on the caller's input, or was refused by a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent<'a> {
    /// A sign-in that issued a session.
    LoginSucceeded(Actor<'a>),
    /// A sign-in refused: unknown identifier or wrong password (the same event for both).
    LoginFailed(Actor<'a>),
    /// A wrong verification, recovery or sign-in code.
    CodeRejected(Actor<'a>),
    /// A right code: the address is verified.
    AddressVerified(Actor<'a>),
    /// A per-code or per-address failure budget ran out; `reason` names which.
    LockedOut {
        reason: &'static str,
        actor: Actor<'a>,
    },
    /// A rate limit answered "too many"; `rule` is the rule's id.
    RateLimited {
        rule: &'static str,
        actor: Actor<'a>,
    },
    PasswordChanged(Actor<'a>),
    /// An address trait was added, changed or removed in settings.
    AddressChanged(Actor<'a>),
    /// A never-verified identity past `identity.unverified_lifespan` was removed because a
    /// sign-up named one of its addresses.
    UnverifiedIdentityRemoved(Actor<'a>),
    /// The scheduled cleanup removed this many never-verified identities past the lifespan.
    UnverifiedIdentitiesExpired(u64),
    RecoveryRequested(Actor<'a>),
    RecoveryCompleted(Actor<'a>),
    /// A request authenticated with a partner API key (`key_id` is the key's id, not secret).
    ApiKeyUsed {
        key_id: Uuid,
        actor: Actor<'a>,
    },
    /// Partner API credentials that did not authenticate.
    ApiKeyRefused(Actor<'a>),
    ApiKeyCreated {
        key_id: Uuid,
    },
    ApiKeyRevoked {
        key_id: Uuid,
    },
    /// The partner API sent a code to `actor.subject` (a number).
    PhoneCodeSent {
        key_id: Uuid,
        actor: Actor<'a>,
    },
    PhoneCodeVerified {
        key_id: Uuid,
        actor: Actor<'a>,
    },
    PhoneCodeRejected {
        key_id: Uuid,
        actor: Actor<'a>,
    },
    /// The SMS policy refused or capped a message; `reason` is the metric's label.
    SmsRefused {
        reason: &'static str,
        actor: Actor<'a>,
    },
}

impl<'a> AuditEvent<'a> {
    /// The event's stable name, its outcome, its actor and its detail.
    fn parts(&self) -> (&'static str, Outcome, Actor<'a>, Option<String>) {
        use AuditEvent as E;
        use Outcome::{Failure, Refused, Success};
        let none = Actor::default();
        let key = |id: &Uuid| Some(format!("key_id={id}"));
        match self {
            E::LoginSucceeded(a) => ("login_succeeded", Success, *a, None),
            E::LoginFailed(a) => ("login_failed", Failure, *a, None),
            E::CodeRejected(a) => ("code_rejected", Failure, *a, None),
            E::AddressVerified(a) => ("address_verified", Success, *a, None),
            E::LockedOut { reason, actor } => {
                ("locked_out", Refused, *actor, Some((*reason).into()))
            }
            E::RateLimited { rule, actor } => {
                ("rate_limited", Refused, *actor, Some((*rule).into()))
            }
            E::PasswordChanged(a) => ("password_changed", Success, *a, None),
            E::AddressChanged(a) => ("address_changed", Success, *a, None),
            E::UnverifiedIdentityRemoved(a) => ("unverified_identity_removed", Success, *a, None),
            E::UnverifiedIdentitiesExpired(n) => (
                "unverified_identities_expired",
                Success,
                none,
                Some(format!("count={n}")),
            ),
            E::RecoveryRequested(a) => ("recovery_requested", Success, *a, None),
            E::RecoveryCompleted(a) => ("recovery_completed", Success, *a, None),
            E::ApiKeyUsed { key_id, actor } => ("api_key_used", Success, *actor, key(key_id)),
            E::ApiKeyRefused(a) => ("api_key_refused", Failure, *a, None),
            E::ApiKeyCreated { key_id } => ("api_key_created", Success, none, key(key_id)),
            E::ApiKeyRevoked { key_id } => ("api_key_revoked", Success, none, key(key_id)),
            E::PhoneCodeSent { key_id, actor } => ("phone_code_sent", Success, *actor, key(key_id)),
            E::PhoneCodeVerified { key_id, actor } => {
                ("phone_code_verified", Success, *actor, key(key_id))
            }
            E::PhoneCodeRejected { key_id, actor } => {
                ("phone_code_rejected", Failure, *actor, key(key_id))
            }
            E::SmsRefused { reason, actor } => {
                ("sms_refused", Refused, *actor, Some((*reason).into()))
            }
        }
    }
}

/// Writes the event's line.
pub fn event(e: AuditEvent<'_>) {
    let (name, outcome, actor, detail) = e.parts();
    let subject = actor.subject.map(subject_hash);
    tracing::info!(
        target: "verity::audit",
        event = name,
        outcome = outcome.as_str(),
        flow_id = actor.flow_id.map(display),
        identity_id = actor.identity_id.map(display),
        subject = subject.as_deref(),
        client_ip = actor.client_ip.map(display),
        detail = detail.as_deref(),
        "audit"
    );
}

fn key_slot() -> &'static RwLock<Option<Keyring>> {
    static KEY: OnceLock<RwLock<Option<Keyring>>> = OnceLock::new();
    KEY.get_or_init(|| RwLock::new(None))
}

/// Keys subject hashes with the server's secrets; `Application::build` calls it. Until then
/// (and in a process that never builds a server) a random key is used, never no key.
pub fn install_key(keys: &Keyring) {
    if let Ok(mut slot) = key_slot().write() {
        *slot = Some(keys.clone());
    }
}

/// The keyed hash written as `subject`: 32 hex digits.
pub fn subject_hash(subject: &str) -> String {
    let mac = match key_slot().read() {
        Ok(guard) => guard
            .as_ref()
            .map(|k| k.sign(SUBJECT_PURPOSE, subject.as_bytes())),
        Err(_) => None,
    };
    let mac = mac.unwrap_or_else(|| {
        static RANDOM: OnceLock<Keyring> = OnceLock::new();
        RANDOM
            .get_or_init(|| Keyring::new::<&str>(&[]))
            .sign(SUBJECT_PURPOSE, subject.as_bytes())
    });
    hex(&mac[..SUBJECT_BYTES])
}

#[cfg(test)]
pub(crate) mod capture {
    //! Collects what `tracing` writes on this thread, for tests of log lines.
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Counts what `metrics` records on this thread, by `name{label=value,..}`.
    #[derive(Clone, Default)]
    pub struct Counters(Arc<Mutex<std::collections::BTreeMap<String, u64>>>);

    struct One(Arc<Mutex<std::collections::BTreeMap<String, u64>>>, String);

    impl metrics::CounterFn for One {
        fn increment(&self, value: u64) {
            if let Ok(mut m) = self.0.lock() {
                *m.entry(self.1.clone()).or_default() += value;
            }
        }
        fn absolute(&self, value: u64) {
            if let Ok(mut m) = self.0.lock() {
                m.insert(self.1.clone(), value);
            }
        }
    }

    impl metrics::Recorder for Counters {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            key: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            metrics::Counter::from_arc(Arc::new(One(self.0.clone(), name)))
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    impl Counters {
        /// Runs `f` with this recorder installed on the current thread.
        pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
            metrics::with_local_recorder(self, f)
        }
        pub fn get(&self, name: &str) -> u64 {
            self.0
                .lock()
                .map(|m| m.get(name).copied().unwrap_or(0))
                .unwrap_or(0)
        }
    }

    /// Runs `f` with a JSON subscriber at INFO and answers what it wrote.
    pub fn json_lines(f: impl FnOnce()) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = lines.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_line_with_every_field_and_the_subject_only_hashed() {
        install_key(&Keyring::new(&["audit-test-secret-0123456789abcdef"]));
        let flow = Uuid::new_v4();
        let out = capture::json_lines(|| {
            event(AuditEvent::LoginFailed(Actor {
                flow_id: Some(flow),
                identity_id: None,
                subject: Some("kim@example.com"),
                client_ip: Some("203.0.113.9".parse().unwrap()),
            }))
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let f = &v["fields"];
        assert_eq!(v["target"], "verity::audit");
        assert_eq!(v["level"], "INFO");
        assert_eq!(f["event"], "login_failed");
        assert_eq!(f["outcome"], "failure");
        assert_eq!(f["flow_id"], flow.to_string());
        assert_eq!(f["client_ip"], "203.0.113.9");
        assert_eq!(f["subject"], subject_hash("kim@example.com"));
        assert_eq!(f["subject"].as_str().unwrap().len(), 32);
        assert!(
            f.get("identity_id").is_none(),
            "unknown fields are left out"
        );
        assert!(!out.contains("kim@example.com"), "{out}");
        assert!(!out.contains("example.com"), "{out}");
    }

    #[test]
    fn subject_hash_is_keyed_and_stable() {
        install_key(&Keyring::new(&["audit-test-secret-0123456789abcdef"]));
        let a = subject_hash("+4915112345678");
        assert_eq!(a, subject_hash("+4915112345678"));
        assert_ne!(a, subject_hash("+4915112345679"));
        let other = Keyring::new(&["another-secret-0123456789abcdef00"]);
        assert_ne!(
            a,
            hex(&other.sign(SUBJECT_PURPOSE, b"+4915112345678")[..16])
        );
    }

    #[test]
    fn every_event_has_a_name_and_policy_refusals_say_why() {
        let key_id = Uuid::new_v4();
        let a = Actor::default();
        let (name, outcome, _, detail) = AuditEvent::SmsRefused {
            reason: "number_type",
            actor: a,
        }
        .parts();
        assert_eq!((name, outcome), ("sms_refused", Outcome::Refused));
        assert_eq!(detail.as_deref(), Some("number_type"));
        let (name, _, _, detail) = AuditEvent::ApiKeyUsed { key_id, actor: a }.parts();
        assert_eq!(name, "api_key_used");
        assert_eq!(detail, Some(format!("key_id={key_id}")));
    }
}
