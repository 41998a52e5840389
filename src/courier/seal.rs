//! Message texts are sealed at rest with AES-256-GCM, so a database dump holds no code.
//!
//! Keys: every `secrets.cipher` entry (exactly 32 bytes, Kratos's rule), then one key derived
//! with HMAC-SHA256 from each signing secret (`secrets.cookie`, else `secrets.default`). The
//! first key seals; opening tries them all, so secrets rotate without losing queued mail.
//! The message id and field name are bound in as associated data: a sealed body cannot be
//! moved to another row or field.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::Mac;
use rand::RngExt;
use uuid::Uuid;

use super::CourierError;
use crate::config::Settings;
use crate::persistence::Sealed;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const DERIVE_LABEL: &[u8] = b"verity/courier/seal/v1";

#[derive(Clone)]
pub struct Sealer {
    keys: Vec<Aes256Gcm>,
    /// True when no secret is configured and the key is random (it dies with the process).
    pub ephemeral: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.keys.len())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sealed message text cannot be opened with any configured key")]
pub struct OpenError;

fn derive(secret: &[u8]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(DERIVE_LABEL);
    mac.finalize().into_bytes().into()
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

impl Sealer {
    pub fn from_settings(settings: &Settings) -> Result<Self, CourierError> {
        let mut raw: Vec<[u8; 32]> = Vec::new();
        for (i, s) in settings.secrets.cipher.iter().enumerate() {
            let bytes: [u8; 32] = s.expose().as_bytes().try_into().map_err(|_| {
                CourierError::Config(format!("secrets.cipher.{i} must be exactly 32 bytes long"))
            })?;
            raw.push(bytes);
        }
        raw.extend(
            settings
                .signing_secrets()
                .iter()
                .map(|s| derive(s.expose().as_bytes())),
        );
        let ephemeral = raw.is_empty();
        if ephemeral {
            let mut k = [0u8; 32];
            rand::rng().fill(&mut k[..]);
            raw.push(k);
        }
        Ok(Self {
            keys: raw.iter().map(cipher).collect(),
            ephemeral,
        })
    }

    /// For tests: a sealer over explicit 32-byte keys, the first one sealing.
    pub fn with_keys(keys: &[[u8; 32]]) -> Self {
        Self {
            keys: keys.iter().map(cipher).collect(),
            ephemeral: false,
        }
    }

    fn aad(id: Uuid, field: &str) -> Vec<u8> {
        [id.as_bytes().as_slice(), field.as_bytes()].concat()
    }

    pub fn seal(&self, id: Uuid, field: &str, plain: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce[..]);
        let aad = Self::aad(id, field);
        let ct = self.keys[0]
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .unwrap_or_else(|_| unreachable!("AES-GCM sealing of in-memory data cannot fail"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Sealed(out)
    }

    pub fn open(&self, id: Uuid, field: &str, sealed: &Sealed) -> Result<Vec<u8>, OpenError> {
        let bytes = &sealed.0;
        if bytes.len() < 1 + NONCE_LEN + 16 || bytes[0] != VERSION {
            return Err(OpenError);
        }
        let (nonce, ct) = bytes[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError)?;
        let aad = Self::aad(id, field);
        self.keys
            .iter()
            .find_map(|k| {
                k.decrypt((&nonce).into(), Payload { msg: ct, aad: &aad })
                    .ok()
            })
            .ok_or(OpenError)
    }

    pub fn open_string(&self, id: Uuid, field: &str, sealed: &Sealed) -> Result<String, OpenError> {
        String::from_utf8(self.open(id, field, sealed)?).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_without_plaintext_at_rest() {
        let s = Sealer::with_keys(&[[7u8; 32]]);
        let id = Uuid::now_v7();
        let sealed = s.seal(id, "body", b"your code is 123456");
        assert!(!sealed.0.windows(6).any(|w| w == b"123456"));
        assert_eq!(s.open(id, "body", &sealed).unwrap(), b"your code is 123456");
        assert_ne!(
            s.seal(id, "body", b"x").0,
            s.seal(id, "body", b"x").0,
            "fresh nonces"
        );
    }

    #[test]
    fn bound_to_row_and_field() {
        let s = Sealer::with_keys(&[[7u8; 32]]);
        let id = Uuid::now_v7();
        let sealed = s.seal(id, "body", b"secret");
        assert!(s.open(id, "subject", &sealed).is_err());
        assert!(s.open(Uuid::now_v7(), "body", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.0.len() - 1;
        tampered.0[last] ^= 1;
        assert!(s.open(id, "body", &tampered).is_err());
    }

    #[test]
    fn rotation_opens_with_old_keys_and_seals_with_the_new() {
        let old = Sealer::with_keys(&[[1u8; 32]]);
        let id = Uuid::now_v7();
        let sealed = old.seal(id, "body", b"queued before rotation");
        let rotated = Sealer::with_keys(&[[2u8; 32], [1u8; 32]]);
        assert_eq!(
            rotated.open(id, "body", &sealed).unwrap(),
            b"queued before rotation"
        );
        let fresh = rotated.seal(id, "body", b"new");
        assert!(old.open(id, "body", &fresh).is_err());
        assert!(
            Sealer::with_keys(&[[2u8; 32]])
                .open(id, "body", &sealed)
                .is_err()
        );
    }

    #[test]
    fn keys_come_from_cipher_or_signing_secrets() {
        let yaml = |extra: &str| {
            format!(
                "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n{extra}"
            )
        };
        let signing =
            Settings::from_yaml(&yaml("secrets:\n  default: [\"a-signing-secret-0123\"]\n"))
                .unwrap();
        let a = Sealer::from_settings(&signing).unwrap();
        assert!(!a.ephemeral);
        let cipher = Settings::from_yaml(&yaml(
            "secrets:\n  default: [\"a-signing-secret-0123\"]\n  cipher: [\"0123456789abcdef0123456789abcdef\"]\n",
        ))
        .unwrap();
        let b = Sealer::from_settings(&cipher).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(
            b.open(id, "f", &a.seal(id, "f", b"x")).unwrap(),
            b"x",
            "adding a cipher secret keeps old rows readable"
        );
        assert!(
            a.open(id, "f", &b.seal(id, "f", b"x")).is_err(),
            "the cipher secret seals"
        );
        let mut short = Settings::from_yaml(&yaml("")).unwrap();
        short.secrets.cipher = vec![crate::config::Sensitive::new("too-short")];
        assert!(Sealer::from_settings(&short).is_err());
        let none = Settings::from_yaml(&yaml("")).unwrap();
        assert!(Sealer::from_settings(&none).unwrap().ephemeral);
    }
}
