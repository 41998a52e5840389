//! The digests the imported forms name: SHA-1 and SHA-2 (plain and in HMAC), MD5 in HMAC.

use sha2::Digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacKind {
    Md5,
    Sha(ShaKind),
}

impl HmacKind {
    pub(super) fn hex(self, key: &[u8], message: &[u8]) -> String {
        use hmac::{KeyInit, Mac};
        fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac = <M as KeyInit>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        let raw = match self {
            Self::Md5 => run::<hmac::Hmac<md5::Md5>>(key, message),
            Self::Sha(ShaKind::Sha1) => run::<hmac::Hmac<sha1::Sha1>>(key, message),
            Self::Sha(ShaKind::Sha224) => run::<hmac::Hmac<sha2::Sha224>>(key, message),
            Self::Sha(ShaKind::Sha256) => run::<hmac::Hmac<sha2::Sha256>>(key, message),
            Self::Sha(ShaKind::Sha384) => run::<hmac::Hmac<sha2::Sha384>>(key, message),
            Self::Sha(ShaKind::Sha512) => run::<hmac::Hmac<sha2::Sha512>>(key, message),
        };
        raw.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShaKind {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl ShaKind {
    pub(super) fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(input).to_vec(),
            Self::Sha224 => sha2::Sha224::digest(input).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(input).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(input).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(input).to_vec(),
        }
    }
    pub(super) fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}
