//! The checks themselves. Order: the byte cap first (so an oversized body costs nothing
//! more), then the minimum length, the common-password list and the identifier similarity.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::messages;
use crate::text::Text;

/// Passwords longer than this many bytes are refused before anything else looks at them.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Identifier parts shorter than this are not compared (too many false refusals).
const MIN_PART_CHARS: usize = 4;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
    similarity_check: bool,
    /// `haveibeenpwned_enabled`: the bundled list stands in for the online service.
    common_list: bool,
    /// [`MAX_PASSWORD_BYTES`], or 72 with the bcrypt hasher (bcrypt ignores the rest).
    max_bytes: usize,
}

/// How many passwords the bundled list holds (said at start).
pub fn common_list_len() -> usize {
    COMMON.len()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer code points than the configured minimum.
    TooShort { min: usize, actual: usize },
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong {
        max_bytes: usize,
        actual_bytes: usize,
    },
    /// On the bundled list of common passwords (compared case-insensitively).
    Common,
    /// Contains, is contained in, or is a few edits away from an identifier.
    TooSimilar,
}

impl PolicyViolation {
    /// The UI message with Kratos's id.
    pub fn text(&self) -> Text {
        match *self {
            Self::TooShort { min, actual } => messages::password_too_short(min, actual),
            Self::TooLong {
                max_bytes,
                actual_bytes,
            } => messages::password_too_long(max_bytes, actual_bytes),
            Self::Common => messages::password_breached(),
            Self::TooSimilar => messages::password_too_similar(),
        }
    }
}

impl PasswordPolicy {
    pub fn new(min_length: usize, similarity_check: bool) -> Self {
        Self {
            min_length,
            similarity_check,
            common_list: true,
            max_bytes: MAX_PASSWORD_BYTES,
        }
    }

    /// From `selfservice.methods.password.config` and `hashers.algorithm`.
    pub fn from_settings(cfg: &crate::config::Settings) -> Self {
        let c = &cfg.selfservice.methods.password.config;
        let mut p = Self::new(c.min_password_length, c.identifier_similarity_check_enabled);
        p.common_list = c.haveibeenpwned_enabled;
        if cfg.hashers.algorithm == crate::config::HashAlgorithm::Bcrypt {
            p.max_bytes = 72;
        }
        p
    }

    /// Checks a candidate BEFORE any hashing. `identifiers` are the identity's normalised
    /// identifiers (email, phone, username).
    pub fn check(&self, password: &str, identifiers: &[String]) -> Result<(), PolicyViolation> {
        if password.len() > self.max_bytes {
            return Err(PolicyViolation::TooLong {
                max_bytes: self.max_bytes,
                actual_bytes: password.len(),
            });
        }
        // NIST counts each code point as one character; no normalisation, no truncation.
        let actual = password.chars().count();
        if actual < self.min_length {
            return Err(PolicyViolation::TooShort {
                min: self.min_length,
                actual,
            });
        }
        let lower = password.to_lowercase();
        if self.common_list && COMMON.contains(lower.as_str()) {
            return Err(PolicyViolation::Common);
        }
        if self.similarity_check && identifiers.iter().any(|id| too_similar(&lower, id)) {
            return Err(PolicyViolation::TooSimilar);
        }
        Ok(())
    }
}

/// The parts of an identifier a password is compared with: the whole (lower-cased), an
/// email's local part, and a phone number's digits without the `+`. Parts shorter than
/// four code points are dropped.
fn identifier_parts(identifier: &str) -> Vec<String> {
    let whole = identifier.trim().to_lowercase();
    let mut parts = Vec::with_capacity(2);
    if let Some((local, _)) = whole.rsplit_once('@') {
        parts.push(local.to_owned());
    }
    if let Some(digits) = whole.strip_prefix('+') {
        parts.push(digits.to_owned());
    }
    parts.push(whole);
    parts.retain(|p| p.chars().count() >= MIN_PART_CHARS);
    parts
}

/// The allowed edit distance for a password of `len` code points: 2 up to 16 characters,
/// then one more per further 8 characters.
fn max_edits(len: usize) -> usize {
    2 + len.saturating_sub(16) / 8
}

/// Refuses when the lower-cased password contains, or is contained in, an identifier
/// part, or is within [`max_edits`] single-character edits of one.
fn too_similar(lower_password: &str, identifier: &str) -> bool {
    let len = lower_password.chars().count();
    identifier_parts(identifier).iter().any(|part| {
        lower_password.contains(part.as_str())
            || (len >= MIN_PART_CHARS && part.contains(lower_password))
            || edit_distance_within(lower_password, part, max_edits(len)).is_some()
    })
}

/// The Levenshtein distance between `a` and `b` (in code points) if it is at most `bound`,
/// else `None`. Bounded: stops early once every cell of a row exceeds `bound`.
pub fn edit_distance_within(a: &str, b: &str, bound: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > bound {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        if cur.iter().all(|&d| d > bound) {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()]).filter(|&d| d <= bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["alice@example.com", "alice", "+4915112345678"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn table() {
        use PolicyViolation::*;
        let policy = PasswordPolicy::new(8, true);
        let long_bad = "x".repeat(1025);
        let long_ok = "correct horse battery staple ".repeat(40)[..1024].to_owned();
        let rows: Vec<(&str, &str, Option<PolicyViolation>)> = vec![
            (
                "7 chars is below the default minimum",
                "kd9#mZq",
                Some(TooShort { min: 8, actual: 7 }),
            ),
            ("exactly the minimum passes", "kd9#mZq2", None),
            (
                "1025 ASCII bytes are refused before anything else",
                &long_bad,
                Some(TooLong {
                    max_bytes: 1024,
                    actual_bytes: 1025,
                }),
            ),
            ("1024 ASCII bytes are accepted", &long_ok, None),
            (
                "7 code points in 14 bytes are still too short",
                "äöüßéèê",
                Some(TooShort { min: 8, actual: 7 }),
            ),
            (
                "8 multi-byte code points meet the minimum",
                "äöüßéèêñ",
                None,
            ),
            ("Password123 is common", "Password123", Some(Common)),
            ("password1 is common", "password1", Some(Common)),
            ("matching ignores case", "PaSsWoRd123!", Some(Common)),
            ("keyboard walks are common", "1qaz2wsx", Some(Common)),
            ("numeric runs are common", "123456789", Some(Common)),
            ("the email itself", "Alice@Example.com", Some(TooSimilar)),
            (
                "contains the local part",
                "alice-rocks-2024",
                Some(TooSimilar),
            ),
            ("contained in the email", "e@example.com", Some(TooSimilar)),
            (
                "two edits from the email",
                "alice@exampel.com",
                Some(TooSimilar),
            ),
            ("the phone digits", "4915112345678", Some(TooSimilar)),
            (
                "the phone digits one edit off",
                "4915112345679",
                Some(TooSimilar),
            ),
            (
                "a strong passphrase passes",
                "correct horse battery staple",
                None,
            ),
            (
                "an emoji passphrase passes",
                "🦀🔥🌊 lighthouse keeper 🐙",
                None,
            ),
            ("an unrelated random string passes", "vT7!qL2#rX9@", None),
        ];
        for (reason, password, expected) in rows {
            assert_eq!(policy.check(password, &ids()).err(), expected, "{reason}");
        }
    }

    #[test]
    fn similarity_check_can_be_disabled_and_minimum_configured() {
        let policy = PasswordPolicy::new(12, false);
        assert_eq!(policy.check("alice@example.com", &ids()), Ok(()));
        assert_eq!(
            policy.check("kd9#mZq2xx", &ids()),
            Err(PolicyViolation::TooShort {
                min: 12,
                actual: 10
            })
        );
        let yaml = |methods: &str| {
            crate::config::Settings::from_yaml(&format!(
                "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n{methods}secrets:\n  default: [\"a-signing-secret-0123\"]\n"
            ))
            .expect("config")
        };
        assert_eq!(
            PasswordPolicy::from_settings(&yaml("")),
            PasswordPolicy::new(8, true)
        );
        let custom = yaml(
            "  methods:\n    password:\n      config:\n        min_password_length: 12\n        identifier_similarity_check_enabled: false\n",
        );
        assert_eq!(PasswordPolicy::from_settings(&custom), policy);
    }

    #[test]
    fn list_is_loaded_and_lower_case() {
        assert!(COMMON.len() > 3000);
        assert!(COMMON.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn bounded_edit_distance() {
        assert_eq!(edit_distance_within("kitten", "sitting", 3), Some(3));
        assert_eq!(edit_distance_within("kitten", "sitting", 2), None);
        assert_eq!(edit_distance_within("abc", "abc", 0), Some(0));
        assert_eq!(edit_distance_within("short", "much longer text", 2), None);
    }

    #[test]
    fn texts_carry_kratos_ids() {
        use PolicyViolation::*;
        let short = TooShort { min: 8, actual: 3 }.text();
        assert_eq!(short.id, 4000032);
        assert_eq!(
            short.text,
            "The password must be at least 8 characters long, but got 3."
        );
        assert_eq!(
            short.context,
            Some(serde_json::json!({"min_length": 8, "actual_length": 3}))
        );
        let long = TooLong {
            max_bytes: 1024,
            actual_bytes: 2000,
        }
        .text();
        assert_eq!(long.id, 4000033);
        assert_eq!(
            long.context,
            Some(serde_json::json!({"max_length": 1024, "actual_length": 2000}))
        );
        assert_eq!(Common.text().id, 4000034);
        assert_eq!(TooSimilar.text().id, 4000031);
        assert_eq!(
            TooSimilar.text().text,
            "The password can not be used because it is too similar to the identifier."
        );
    }
}
