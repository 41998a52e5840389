//! argon2id password hashing on the blocking pool, with a cap on hashes in flight so a
//! burst of logins cannot exhaust memory (each hash holds `memory` KiB while it runs).

use std::sync::Arc;
use std::time::Duration;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use tokio::sync::Semaphore;

use crate::config::Argon2Config;

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
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasswordHasher(m={}KiB, t={}, p={})",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

impl PasswordHasher {
    pub fn new(cfg: &Argon2Config) -> Result<Self, HashError> {
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

    /// The PHC string (`$argon2id$v=19$m=...`) of a fresh salted hash.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let permit = self.permit().await?;
        let busy = crate::metrics::hash_in_flight();
        let argon2 = self.argon2();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            let _permit = (permit, busy);
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Checks a password against a stored PHC string; the parameters come from the string.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        if !phc.starts_with("$argon2") {
            return Err(HashError::UnsupportedHash);
        }
        let permit = self.permit().await?;
        let busy = crate::metrics::hash_in_flight();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            let _permit = (permit, busy);
            let parsed = PasswordHash::new(&phc).map_err(|_| HashError::UnsupportedHash)?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }
}

/// Whether a hash given for import is one Verity can check later.
pub fn is_supported_phc(phc: &str) -> bool {
    phc.starts_with("$argon2") && PasswordHash::new(phc).is_ok()
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
