//! Password hashing on the blocking pool, with a cap on hashes in flight so a burst of logins
//! cannot exhaust memory (each argon2 hash holds `memory` KiB while it runs). New hashes use
//! `hashers.algorithm` (argon2id, or bcrypt as Kratos offers); stored hashes of every form in
//! `imported` verify, and `needs_rehash` says which to replace at the next sign-in.

mod digests;
mod imported;

use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use tokio::sync::Semaphore;

use crate::config::{Argon2Config, HashAlgorithm, HashersConfig};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are running; the caller should answer 429/503 at once.
    #[error("the password hasher is overloaded")]
    Overloaded,
    #[error("the stored hash is not a supported format")]
    UnsupportedHash,
    #[error("hashing failed: {0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    algorithm: HashAlgorithm,
    bcrypt_cost: u32,
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasswordHasher({:?}, m={}KiB, t={}, p={})",
            self.algorithm,
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

impl PasswordHasher {
    /// argon2id with these parameters (tests and tools).
    pub fn new(cfg: &Argon2Config) -> Result<Self, HashError> {
        Self::from_config(&HashersConfig {
            argon2: cfg.clone(),
            ..HashersConfig::default()
        })
    }

    pub fn from_config(hashers: &HashersConfig) -> Result<Self, HashError> {
        let cfg = &hashers.argon2;
        let params = Params::new(
            cfg.memory.as_kib(),
            cfg.iterations,
            cfg.parallelism,
            Some(cfg.key_length as usize),
        )
        .map_err(|e| HashError::Failed(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = cfg.max_concurrent.unwrap_or(cores * 2).max(1);
        Ok(Self {
            params,
            algorithm: hashers.algorithm,
            bcrypt_cost: hashers.bcrypt.cost,
            permits: Arc::new(Semaphore::new(slots)),
            wait: Duration::from_millis(50),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, HashError> {
        // Wait a moment for a slot, then shed: queueing without bound only makes every
        // request slow and holds memory.
        tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                crate::metrics::hash_refused();
                HashError::Overloaded
            })?
            .map_err(|_| HashError::Overloaded)
    }

    /// A fresh salted hash with the configured algorithm: a PHC string
    /// (`$argon2id$v=19$m=...`) or a bcrypt string (`$2b$12$...`).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let (argon2, algorithm, cost) = (self.argon2(), self.algorithm, self.bcrypt_cost);
        self.on_pool(move || match algorithm {
            HashAlgorithm::Argon2 => argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string())),
            HashAlgorithm::Bcrypt => bcrypt::hash(password.as_bytes(), cost)
                .map_err(|e| HashError::Failed(e.to_string())),
        })
        .await
    }

    /// Checks a password against a stored hash of any supported form; its parameters come
    /// from the stored string.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, HashError> {
        let parsed = imported::parse(&stored).map_err(|_| HashError::UnsupportedHash)?;
        self.on_pool(move || Ok(imported::verify(password.as_bytes(), &stored, &parsed)))
            .await
    }

    /// Whether a stored hash is of another kind than the configured hasher makes (an imported
    /// hash, or argon2 after a switch to bcrypt): it is replaced after the next sign-in.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        match self.algorithm {
            HashAlgorithm::Argon2 => !stored.starts_with("$argon2id$"),
            HashAlgorithm::Bcrypt => {
                !matches!(imported::parse(stored), Ok(imported::Stored::Bcrypt))
            }
        }
    }

    /// The hash unknown identifiers are checked against, so they cost what the slowest
    /// configured verifier costs: a hash of a random password with the argon2 parameters, and
    /// with bcrypt when it is the configured hasher, whichever verifies slower here.
    pub async fn slowest_dummy(&self) -> Result<String, HashError> {
        let random = crate::session::Token::generate("").expose().to_owned();
        let mut candidates = vec![{
            let argon2 = self.argon2();
            let pw = random.clone();
            self.on_pool(move || {
                argon2
                    .hash_password(pw.as_bytes())
                    .map(|h| h.to_string())
                    .map_err(|e| HashError::Failed(e.to_string()))
            })
            .await?
        }];
        if self.algorithm == HashAlgorithm::Bcrypt {
            candidates.push(self.hash(random.clone()).await?);
        }
        let mut slowest = (std::time::Duration::ZERO, String::new());
        for stored in candidates {
            let started = std::time::Instant::now();
            self.verify(random.clone(), stored.clone()).await?;
            let took = started.elapsed();
            if took >= slowest.0 {
                slowest = (took, stored);
            }
        }
        Ok(slowest.1)
    }

    /// Runs CPU-bound work on the blocking pool under a permit.
    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = self.permit().await?;
        let busy = crate::metrics::hash_in_flight();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            let _permit = (permit, busy);
            work()
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }
}

/// Whether a hash given for import is one Verity can check later, and if not, why.
pub fn check_imported(stored: &str) -> Result<(), String> {
    imported::parse(stored).map(|_| ())
}

/// Whether a hash given for import is one Verity can check later.
pub fn is_supported_phc(stored: &str) -> bool {
    check_imported(stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Argon2Config {
        Argon2Config {
            memory: crate::config::ByteSize::kib(64),
            iterations: 1,
            ..Argon2Config::default()
        }
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = PasswordHasher::new(&fast()).unwrap();
        let phc = h.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify("correct horse".into(), phc.clone()).await.unwrap());
        assert!(!h.verify("wrong horse".into(), phc).await.unwrap());
        assert!(is_supported_phc(&h.hash("x".into()).await.unwrap()));
        assert!(!is_supported_phc("$2b$10$abcdefghijklmnopqrstuv"));
        assert!(!h.needs_rehash(&phc_of(&h).await));
        assert!(h.needs_rehash(&bcrypt::hash("x", 4).unwrap()));
    }

    async fn phc_of(h: &PasswordHasher) -> String {
        h.hash("x".into()).await.unwrap()
    }

    #[tokio::test]
    async fn bcrypt_is_a_configurable_hasher() {
        let cfg = HashersConfig {
            algorithm: HashAlgorithm::Bcrypt,
            bcrypt: crate::config::BcryptConfig { cost: 4 },
            ..HashersConfig::default()
        };
        let h = PasswordHasher::from_config(&cfg).unwrap();
        let stored = h.hash("pw".into()).await.unwrap();
        assert!(stored.starts_with("$2b$04$"), "{stored}");
        assert!(h.verify("pw".into(), stored.clone()).await.unwrap());
        assert!(!h.needs_rehash(&stored));
        let argon = PasswordHasher::new(&fast()).unwrap();
        let old = argon.hash("pw".into()).await.unwrap();
        assert!(h.verify("pw".into(), old.clone()).await.unwrap());
        assert!(h.needs_rehash(&old));
    }

    #[tokio::test]
    async fn a_full_hasher_sheds_instead_of_queueing() {
        let cfg = Argon2Config {
            max_concurrent: Some(1),
            ..fast()
        };
        let h = PasswordHasher::new(&cfg).unwrap();
        let held = h.permit().await.unwrap();
        assert!(matches!(
            h.hash("x".into()).await,
            Err(HashError::Overloaded)
        ));
        drop(held);
        assert!(h.hash("x".into()).await.is_ok());
    }
}
