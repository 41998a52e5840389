//! Lockouts that spare the owner (NIST 800-63B 5.2.2). Failed sign-ins count per
//! (identifier, client) as well as per identifier: one client meets a growing delay (5
//! failures a minute, then 20 an hour) long before the identifier's hard lock (100 in 15
//! minutes), and a browser the identity signed in from before carries a device mark that
//! exempts it from the hard lock and counts its own failures apart from everyone else's.
//! Wrong codes likewise count per (address, client), with a hard cap per address. Recovery
//! and sign-in by code never look at password failures.

use chrono::{DateTime, Utc};

use super::{Limited, RateLimiter, Rule};
use crate::crypto::{Keyring, constant_time_eq};
use crate::persistence::StoreError;

/// The cookie that carries the device marks of a browser.
pub const DEVICE_COOKIE: &str = "verity_device";
const MARK_PURPOSE: &str = "device-mark";
/// Marks kept per browser (the identities last signed in from it).
const MAX_MARKS: usize = 8;
const MARK_HEX: usize = 32;

/// A browser's mark for an identifier: a keyed hash, so the cookie names no account.
pub fn mark(keys: &Keyring, identifier: &str) -> String {
    let mut m = keys.sign_hex(MARK_PURPOSE, identifier.as_bytes());
    m.truncate(MARK_HEX);
    m
}

/// Whether `cookie` holds a mark for `identifier` under any configured key.
pub fn is_known_device(keys: &Keyring, cookie: Option<&str>, identifier: &str) -> bool {
    let Some(cookie) = cookie else {
        return false;
    };
    let wanted: Vec<String> = keys
        .candidates_hex(MARK_PURPOSE, identifier.as_bytes())
        .into_iter()
        .map(|mut c| {
            c.truncate(MARK_HEX);
            c
        })
        .collect();
    cookie.split('.').fold(false, |hit, m| {
        wanted
            .iter()
            .fold(hit, |h, w| h | constant_time_eq(m.as_bytes(), w.as_bytes()))
    })
}

/// The cookie value after a sign-in with `identifiers`: their marks first, then the older
/// marks, at most `MAX_MARKS`.
pub fn remember(keys: &Keyring, cookie: Option<&str>, identifiers: &[String]) -> String {
    let mut marks: Vec<String> = identifiers.iter().map(|i| mark(keys, i)).collect();
    for old in cookie.unwrap_or("").split('.') {
        let valid = old.len() == MARK_HEX && old.bytes().all(|b| b.is_ascii_hexdigit());
        if valid && !marks.iter().any(|m| m == old) {
            marks.push(old.to_owned());
        }
    }
    marks.truncate(MAX_MARKS);
    marks.join(".")
}

/// Who is trying: the identifier and the client (its device mark when it has one for this
/// identifier, else its IP subject).
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub identifier: &'a str,
    pub client: &'a str,
    pub known_device: bool,
}

impl Attempt<'_> {
    fn pair(&self) -> String {
        let who = if self.known_device {
            "device"
        } else {
            self.client
        };
        format!("{}\u{1f}{who}", self.identifier)
    }
}

impl RateLimiter {
    /// Whether a password may be checked now: the client's growing delay, then (for a
    /// client the identity never signed in from) the identifier's hard lock.
    pub async fn login_allowed(
        &self,
        a: &Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, StoreError> {
        let pair = a.pair();
        for rule in [
            Rule::LoginFailuresPerClientMinute,
            Rule::LoginFailuresPerClientHour,
        ] {
            if let Err(l) = self.check(rule, &pair, now).await? {
                return Ok(Err(l));
            }
        }
        if a.known_device {
            return Ok(Ok(()));
        }
        self.check(Rule::LoginFailuresPerAccount, a.identifier, now)
            .await
    }

    /// Counts a failed sign-in against the client's steps and the identifier.
    pub async fn login_failed(
        &self,
        a: &Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pair = a.pair();
        let mut hits = vec![
            (Rule::LoginFailuresPerClientMinute, pair.as_str()),
            (Rule::LoginFailuresPerClientHour, pair.as_str()),
        ];
        if !a.known_device {
            hits.push((Rule::LoginFailuresPerAccount, a.identifier));
        }
        // Counted here; refused by the next `login_allowed`.
        let _ = self.hit_many(&hits, now).await?;
        Ok(())
    }

    /// Whether a code for `address` may be compared now: the client's daily budget for the
    /// address, then the address's hard cap.
    pub async fn code_allowed(
        &self,
        address: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Limited>, StoreError> {
        let pair = format!("{address}\u{1f}{client}");
        if let Err(l) = self
            .check(Rule::CodeFailuresPerAddressDay, &pair, now)
            .await?
        {
            return Ok(Err(l));
        }
        self.check(Rule::CodeFailuresPerAddressTotalDay, address, now)
            .await
    }

    /// Counts a wrong code for `address` from `client`.
    pub async fn code_failed(
        &self,
        address: &str,
        client: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pair = format!("{address}\u{1f}{client}");
        let hits = [
            (Rule::CodeFailuresPerAddressDay, pair.as_str()),
            (Rule::CodeFailuresPerAddressTotalDay, address),
        ];
        let _ = self.hit_many(&hits, now).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keyring {
        Keyring::new(&["a-test-secret-of-enough-length!!"])
    }

    #[test]
    fn marks_are_remembered_newest_first_and_recognised() {
        let k = keys();
        let c = remember(&k, None, &["ada@example.com".into()]);
        assert!(is_known_device(&k, Some(&c), "ada@example.com"));
        assert!(!is_known_device(&k, Some(&c), "bob@example.com"));
        assert!(!is_known_device(&k, None, "ada@example.com"));
        let c2 = remember(&k, Some(&format!("{c}.junk")), &["bob@example.com".into()]);
        assert!(is_known_device(&k, Some(&c2), "ada@example.com"));
        assert!(c2.starts_with(&mark(&k, "bob@example.com")));
        assert!(!c2.contains("junk"));
        let many: Vec<String> = (0..20).map(|i| format!("u{i}@x.io")).collect();
        assert_eq!(remember(&k, Some(&c2), &many).split('.').count(), MAX_MARKS);
    }

    #[test]
    fn a_known_device_counts_apart_from_its_address() {
        let a = Attempt {
            identifier: "ada",
            client: "ip:1.2.3.4",
            known_device: true,
        };
        let b = Attempt {
            known_device: false,
            ..a.clone()
        };
        assert_ne!(a.pair(), b.pair());
    }
}
