//! API keys: `vk_` + 24 alphanumerics (public) and a 256-bit random secret shown once.
//! Secrets are stored as HMAC-SHA256 under the keyring (purpose `phone-api-secret`), not
//! argon2: they carry 256 bits of entropy, so a fast keyed hash is enough and keeps every
//! API call cheap. Rotating `secrets.default` keeps old secrets valid while the old key stays
//! listed.

use base64::Engine;
use rand::RngExt;

use crate::crypto::{Keyring, constant_time_eq, hex};
use crate::persistence::phone::ApiKeyAuth;

const SECRET_PURPOSE: &str = "phone-api-secret";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn rng() -> rand::rand_core::UnwrapErr<rand::rngs::SysRng> {
    rand::rand_core::UnwrapErr(rand::rngs::SysRng)
}

pub fn new_key() -> String {
    let mut r = rng();
    let tail: String = (0..24)
        .map(|_| ALNUM[r.random_range(0..ALNUM.len())] as char)
        .collect();
    format!("vk_{tail}")
}

pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rng().fill(&mut bytes[..]);
    hex(&bytes)
}

/// A 4-digit code from the OS CSPRNG.
pub fn new_code() -> String {
    let mut r = rng();
    (0..4)
        .map(|_| char::from(b'0' + r.random_range(0..10u8)))
        .collect()
}

/// A request id: 32 lowercase hex characters (a random UUID, simple form).
pub fn new_request_id() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

pub fn hash_secret(keys: &Keyring, secret: &str) -> String {
    keys.sign_hex(SECRET_PURPOSE, secret.as_bytes())
}

/// Whether `secret` belongs to the stored key (and the key is not revoked).
pub fn secret_matches(keys: &Keyring, stored: &ApiKeyAuth, secret: &str) -> bool {
    let mut ok = false;
    for c in keys.candidates_hex(SECRET_PURPOSE, secret.as_bytes()) {
        ok |= constant_time_eq(stored.secret_hash.as_bytes(), c.as_bytes());
    }
    ok && stored.revoked_at.is_none()
}

/// `Authorization: Basic base64(key:secret)` → (key, secret).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (k, s) = text.split_once(':')?;
    Some((k.to_owned(), s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let k = new_key();
        assert!(k.starts_with("vk_") && k.len() == 27, "{k}");
        assert_eq!(new_secret().len(), 64);
        let c = new_code();
        assert!(c.len() == 4 && c.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(new_request_id().simple().to_string().len(), 32);
    }

    #[test]
    fn basic_header_parses() {
        assert_eq!(
            parse_basic("Basic dms6c2VjcmV0"),
            Some(("vk".into(), "secret".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
    }
}
