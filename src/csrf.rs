//! CSRF tokens as Kratos (nosurf) makes them: the cookie holds base64 of 32 random bytes; forms
//! carry a masked copy, base64 of a 32-byte one-time pad followed by token XOR pad, so every
//! rendering differs while all of them verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;
use sha2::{Digest, Sha256};

const LEN: usize = 32;

/// A new token (the cookie value).
pub fn new_token() -> String {
    let mut bytes = [0u8; LEN];
    rand::rng().fill(&mut bytes[..]);
    STANDARD.encode(bytes)
}

/// The masked form to put in a form field.
pub fn mask(token: &str) -> String {
    let Some(real) = decode(token).filter(|r| r.len() == LEN) else {
        return String::new();
    };
    let mut pad = [0u8; LEN];
    rand::rng().fill(&mut pad[..]);
    let mut out = pad.to_vec();
    out.extend(real.iter().zip(pad.iter()).map(|(r, p)| r ^ p));
    STANDARD.encode(out)
}

fn decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

/// The real token inside a masked (64-byte) or plain (32-byte) value.
fn unmask(value: &str) -> Option<Vec<u8>> {
    let bytes = decode(value)?;
    match bytes.len() {
        LEN => Some(bytes),
        n if n == 2 * LEN => Some(
            bytes[..LEN]
                .iter()
                .zip(&bytes[LEN..])
                .map(|(p, x)| p ^ x)
                .collect(),
        ),
        _ => None,
    }
}

/// Whether a submitted (masked or plain) value carries the same token as `token`.
pub fn verify(token: &str, submitted: &str) -> bool {
    match (unmask(token), unmask(submitted)) {
        (Some(a), Some(b)) => crate::crypto::constant_time_eq(&a, &b),
        _ => false,
    }
}

/// `csrf_token_` + hex SHA-256 of the public base URL, as Kratos names the cookie.
pub fn cookie_name(public_base_url: &str) -> String {
    format!(
        "csrf_token_{}",
        crate::crypto::hex(&Sha256::digest(public_base_url.as_bytes()))
    )
}

/// A cookie value is usable only if it decodes to a 32-byte token.
pub fn is_valid_token(token: &str) -> bool {
    decode(token).is_some_and(|b| b.len() == LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_differ_but_verify() {
        let t = new_token();
        let (a, b) = (mask(&t), mask(&t));
        assert_ne!(a, b);
        assert!(verify(&t, &a) && verify(&t, &b) && verify(&t, &t));
        assert!(!verify(&new_token(), &a));
        assert!(!verify(&t, "garbage"));
        assert!(!verify(&t, ""));
    }

    #[test]
    fn cookie_name_is_stable() {
        let n = cookie_name("http://127.0.0.1:4433/");
        assert!(n.starts_with("csrf_token_") && n.len() == "csrf_token_".len() + 64);
        assert_eq!(n, cookie_name("http://127.0.0.1:4433/"));
    }
}
