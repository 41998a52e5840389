//! Keyed hashing with rotation: the first secret signs, every listed secret verifies.

use hmac::{KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Keyring {
    /// With no configured secret a random one is made, so nothing signed survives a restart
    /// (Kratos does the same); `verity serve` warns about it.
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Self {
        let keys: Vec<Vec<u8>> = secrets
            .iter()
            .map(|s| s.as_ref().as_bytes().to_vec())
            .collect();
        if keys.is_empty() {
            let mut random = vec![0u8; 32];
            rand::rng().fill(&mut random[..]);
            return Self { keys: vec![random] };
        }
        Self { keys }
    }

    fn mac_with(key: &[u8], purpose: &str, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// MAC under the signing key. `purpose` separates uses (codes, page tokens, ...).
    pub fn sign(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        Self::mac_with(&self.keys[0], purpose, data)
    }

    /// Lower-case hex of `sign`, as stored for codes and tokens.
    pub fn sign_hex(&self, purpose: &str, data: &[u8]) -> String {
        hex(&self.sign(purpose, data))
    }

    /// Every key's MAC, newest first: what a stored MAC may equal.
    pub fn candidates_hex(&self, purpose: &str, data: &[u8]) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| hex(&Self::mac_with(k, purpose, data)))
            .collect()
    }

    /// Checks a MAC against every key, in constant time per comparison.
    pub fn verify(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        let mut ok = subtle::Choice::from(0);
        for key in &self.keys {
            let expected = Self::mac_with(key, purpose, data);
            let n = tag.len().min(expected.len());
            if n == tag.len() && n > 0 {
                ok |= expected[..n].ct_eq(tag);
            }
        }
        ok.into()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Constant-time equality for secrets of equal length.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_keys_still_verify() {
        let old = Keyring::new(&["old-secret-0123456789"]);
        let tag = old.sign("code", b"123456");
        let rotated = Keyring::new(&["new-secret-0123456789", "old-secret-0123456789"]);
        assert!(rotated.verify("code", b"123456", &tag));
        assert!(!rotated.verify("code", b"123457", &tag));
        assert!(
            !rotated.verify("token", b"123456", &tag),
            "purposes are separated"
        );
        let dropped = Keyring::new(&["new-secret-0123456789"]);
        assert!(!dropped.verify("code", b"123456", &tag));
    }

    #[test]
    fn truncated_tags_verify_but_empty_ones_do_not() {
        let k = Keyring::new(&["secret-0123456789abc"]);
        let tag = k.sign("p", b"x");
        assert!(k.verify("p", b"x", &tag[..16]));
        assert!(!k.verify("p", b"x", &[]));
    }

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
