//! Password hashes made elsewhere, in the encodings Kratos's import accepts
//! (`credentials.password.config.hashed_password`): bcrypt (`$2a$`, `$2b$`, `$2y$`), argon2i
//! and argon2id (PHC), `$pbkdf2-sha{1,224,256,384,512}$i=…,l=…$salt$hash` (unpadded base64),
//! `$scrypt$ln=<N>,r=…,p=…$salt$hash` (N itself, a power of two), Firebase's
//! `$firescrypt$ln=<log2 N>,r=…,p=…$salt$hash$separator$signer_key`, `$md5$hash` and
//! `$md5$pf=<format>$salt$hash`, `$sha{1,256,512}$pf=<format>$salt$hash`,
//! `$hmac-<digest>$<hex digest, base64>$<key>`, and LDAP's `{SSHA}`, `{SSHA256}`, `{SSHA512}`.
//! (Kratos's md5-crypt and sha-crypt forms are refused at import.)
//! Parsing happens at import (a hash that will never verify is refused then); checking is
//! CPU work the caller runs on the blocking pool.

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::Digest;

pub use super::digests::{HmacKind, ShaKind};
use subtle::ConstantTimeEq;

/// A parsed stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Argon2,
    Bcrypt,
    Pbkdf2 {
        digest: ShaKind,
        rounds: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Firebase {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
        separator: Vec<u8>,
        signer: Vec<u8>,
    },
    Md5 {
        format: Option<(String, Vec<u8>)>,
        hash: Vec<u8>,
    },
    Ssha {
        digest: ShaKind,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$sha256$pf=…`: the digest of the format with `{SALT}` and `{PASSWORD}` filled in.
    Sha {
        digest: ShaKind,
        format: String,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// The lower-case hex of HMAC(key, password).
    Hmac {
        digest: HmacKind,
        key: Vec<u8>,
        hex: Vec<u8>,
    },
}

/// Why a hash cannot be used, for the import's error message.
pub fn parse(stored: &str) -> Result<Stored, String> {
    let parts: Vec<&str> = stored.split('$').collect();
    let b64 = |s: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| "it has invalid base64".to_owned())
    };
    let raw64 = |s: &str| {
        STANDARD_NO_PAD
            .decode(s)
            .map_err(|_| "it has invalid base64".to_owned())
    };
    let head = parts.get(1).copied().unwrap_or_default();
    if stored.starts_with("$argon2id$") || stored.starts_with("$argon2i$") {
        return PasswordHash::new(stored)
            .map(|_| Stored::Argon2)
            .map_err(|e| format!("it is not a valid argon2 PHC string ({e})"));
    }
    if matches!(head, "2a" | "2b" | "2y" | "2x" | "2") {
        return stored
            .parse::<bcrypt::HashParts>()
            .map(|_| Stored::Bcrypt)
            .map_err(|_| "it is not a valid bcrypt hash".to_owned());
    }
    if let Some(alg) = head.strip_prefix("pbkdf2-") {
        let digest = sha_kind(alg).ok_or("unknown pbkdf2 digest")?;
        let [_, _, params, salt, hash] = parts[..] else {
            return Err("expected $pbkdf2-<digest>$i=<rounds>,l=<length>$<salt>$<hash>".into());
        };
        let rounds = param(params, "i")?;
        return Ok(Stored::Pbkdf2 {
            digest,
            rounds,
            salt: raw64(salt)?,
            hash: raw64(hash)?,
        });
    }
    if head == "scrypt" {
        let [_, _, params, salt, hash] = parts[..] else {
            return Err("expected $scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<hash>".into());
        };
        let n: u32 = param(params, "ln")?;
        if !n.is_power_of_two() || n < 2 {
            return Err("ln must be a power of two greater than 1".into());
        }
        let (r, p) = (param(params, "r")?, param(params, "p")?);
        let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| "ln is too large")?;
        scrypt::Params::new(log_n, r, p).map_err(|_| "invalid scrypt parameters")?;
        return Ok(Stored::Scrypt {
            log_n,
            r,
            p,
            salt: b64(salt)?,
            hash: b64(hash)?,
        });
    }
    if head == "firescrypt" {
        let [_, _, params, salt, hash, separator, signer] = parts[..] else {
            return Err("expected $firescrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>$<separator>$<signer key>".into());
        };
        let log_n: u8 = param(params, "ln")?;
        let (r, p) = (param(params, "r")?, param(params, "p")?);
        scrypt::Params::new(log_n, r, p).map_err(|_| "invalid scrypt parameters")?;
        return Ok(Stored::Firebase {
            log_n,
            r,
            p,
            salt: b64(salt)?,
            hash: b64(hash)?,
            separator: b64(separator)?,
            signer: b64(signer)?,
        });
    }
    if head == "md5" {
        return match parts[..] {
            [_, _, hash] => Ok(Stored::Md5 {
                format: None,
                hash: b64(hash)?,
            }),
            [_, _, pf, salt, hash] => {
                let pf = pf.strip_prefix("pf=").ok_or("expected pf=<format>")?;
                let pf = String::from_utf8(b64(pf)?).map_err(|_| "pf is not text")?;
                Ok(Stored::Md5 {
                    format: Some((pf, b64(salt)?)),
                    hash: b64(hash)?,
                })
            }
            _ => Err("expected $md5$<hash> or $md5$pf=<format>$<salt>$<hash>".into()),
        };
    }
    if matches!(head, "sha1" | "sha256" | "sha512") {
        let digest = sha_kind(head).ok_or("unknown sha digest")?;
        let [_, _, pf, salt, hash] = parts[..] else {
            return Err(format!("expected ${head}$pf=<format>$<salt>$<hash>"));
        };
        let pf = pf.strip_prefix("pf=").ok_or("expected pf=<format>")?;
        return Ok(Stored::Sha {
            digest,
            format: String::from_utf8(b64(pf)?).map_err(|_| "pf is not text")?,
            salt: b64(salt)?,
            hash: b64(hash)?,
        });
    }
    if let Some(alg) = head.strip_prefix("hmac-") {
        let digest = match alg {
            "md5" => HmacKind::Md5,
            other => HmacKind::Sha(sha_kind(other).ok_or("unknown hmac digest")?),
        };
        let [_, _, hash, key] = parts[..] else {
            return Err("expected $hmac-<digest>$<hash>$<key>".into());
        };
        return Ok(Stored::Hmac {
            digest,
            hex: b64(hash)?,
            key: b64(key)?,
        });
    }
    for (tag, digest) in [
        ("{SSHA}", ShaKind::Sha1),
        ("{SSHA256}", ShaKind::Sha256),
        ("{SSHA512}", ShaKind::Sha512),
    ] {
        if let Some(rest) = stored.strip_prefix(tag) {
            let mut all = b64(rest)?;
            if all.len() <= digest.len() {
                return Err("the SSHA value holds no salt".into());
            }
            let salt = all.split_off(digest.len());
            return Ok(Stored::Ssha {
                digest,
                salt,
                hash: all,
            });
        }
    }
    Err(
        "it is none of the supported forms (argon2, bcrypt, pbkdf2, scrypt, firescrypt, md5, ssha)"
            .into(),
    )
}

fn sha_kind(name: &str) -> Option<ShaKind> {
    Some(match name {
        "sha1" => ShaKind::Sha1,
        "sha224" => ShaKind::Sha224,
        "sha256" => ShaKind::Sha256,
        "sha384" => ShaKind::Sha384,
        "sha512" => ShaKind::Sha512,
        _ => return None,
    })
}

fn param<T: std::str::FromStr>(params: &str, name: &str) -> Result<T, String> {
    params
        .split(',')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("the parameter {name} is missing or not a number"))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn fill(format: &str, password: &[u8], salt: &[u8]) -> Vec<u8> {
    // Kratos replaces both placeholders in one pass; a password holding `{SALT}` stays as typed.
    let mut out = Vec::new();
    let mut rest = format;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{PASSWORD}") {
            out.extend_from_slice(password);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("{SALT}") {
            out.extend_from_slice(salt);
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Checks `password` against `stored` (CPU-bound: run it off the async executor).
pub fn verify(password: &[u8], text: &str, stored: &Stored) -> bool {
    match stored {
        Stored::Argon2 => PasswordHash::new(text)
            .is_ok_and(|h| Argon2::default().verify_password(password, &h).is_ok()),
        Stored::Bcrypt => bcrypt::verify(password, text).unwrap_or(false),
        Stored::Pbkdf2 {
            digest,
            rounds,
            salt,
            hash,
        } => {
            let mut out = vec![0u8; hash.len()];
            match digest {
                ShaKind::Sha1 => {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, *rounds, &mut out)
                }
                ShaKind::Sha224 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha224>(password, salt, *rounds, &mut out)
                }
                ShaKind::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, *rounds, &mut out)
                }
                ShaKind::Sha384 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, *rounds, &mut out)
                }
                ShaKind::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, *rounds, &mut out)
                }
            }
            same(&out, hash)
        }
        Stored::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => {
            let mut out = vec![0u8; hash.len()];
            scrypt::Params::new(*log_n, *r, *p)
                .ok()
                .and_then(|params| scrypt::scrypt(password, salt, &params, &mut out).ok())
                .is_some_and(|()| same(&out, hash))
        }
        Stored::Firebase {
            log_n,
            r,
            p,
            salt,
            hash,
            separator,
            signer,
        } => firebase(password, (*log_n, *r, *p), salt, separator, signer)
            .is_some_and(|h| same(&h, hash)),
        Stored::Md5 { format, hash } => {
            let input = match format {
                Some((pf, salt)) => fill(pf, password, salt),
                None => password.to_vec(),
            };
            same(&md5::Md5::digest(&input), hash)
        }
        Stored::Sha {
            digest,
            format,
            salt,
            hash,
        } => same(&digest.digest(&fill(format, password, salt)), hash),
        Stored::Hmac { digest, key, hex } => same(digest.hex(key, password).as_bytes(), hex),
        Stored::Ssha { digest, salt, hash } => {
            let mut input = password.to_vec();
            input.extend_from_slice(salt);
            same(&digest.digest(&input), hash)
        }
    }
}

/// Firebase's scrypt: a key from scrypt(password, salt ‖ separator), then the signer key
/// encrypted with it in AES-256-CTR from a zero counter.
fn firebase(
    password: &[u8],
    (log_n, r, p): (u8, u32, u32),
    salt: &[u8],
    separator: &[u8],
    signer: &[u8],
) -> Option<Vec<u8>> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let params = scrypt::Params::new(log_n, r, p).ok()?;
    let mut key = [0u8; 32];
    let mut salted = salt.to_vec();
    salted.extend_from_slice(separator);
    scrypt::scrypt(password, &salted, &params, &mut key).ok()?;
    let mut out = signer.to_vec();
    let mut stream = ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &[0u8; 16].into());
    stream.apply_keystream(&mut out);
    Some(out)
}

#[cfg(test)]
#[path = "imported_tests.rs"]
mod tests;
