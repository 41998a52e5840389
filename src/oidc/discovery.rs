//! A provider's discovery document and keys: fetched on first use, cached with a TTL,
//! refreshed in the background of callers, reloaded (rate-limited) when a token names an
//! unknown key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

use super::OidcError;
use super::provider::{Provider, chain};

/// Provider metadata and keys are refetched after this long, so rotated keys are picked up.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// After a failed refresh the previous document is served for this long before retrying.
const REFRESH_BACKOFF: Duration = Duration::from_secs(30);
/// At most one reload per this interval because of an ID token signed with an unknown key,
/// so forged tokens cannot make us hammer the provider.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(super) struct Cache {
    metadata: Option<Arc<CoreProviderMetadata>>,
    /// When the cached document is due for a refresh (TTL, or the backoff after a failure).
    refresh_at: Option<Instant>,
    /// The last reload forced by a signature failure.
    forced_at: Option<Instant>,
}

impl Provider {
    /// The provider's discovery document, fetched on first use. A failed first fetch is not
    /// cached (the next call tries again); a failed refresh keeps serving the previous
    /// document and is retried only after a backoff. While one caller refreshes, the others
    /// keep using the previous document.
    pub async fn metadata(&self) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let stale = {
            let mut cache = self.lock_cache();
            match &cache.metadata {
                Some(m) if cache.refresh_at.is_some_and(|at| Instant::now() < at) => {
                    return Ok(m.clone());
                }
                Some(m) => {
                    // This caller refreshes; the others keep the old document meanwhile.
                    let m = m.clone();
                    cache.refresh_at = Some(Instant::now() + REFRESH_BACKOFF);
                    Some(m)
                }
                None => None,
            }
        };
        self.fetch(stale).await
    }

    /// Fetches the document and caches it; on failure serves `stale` if there is one (the
    /// backoff set by the caller stays) or returns the error.
    async fn fetch(
        &self,
        stale: Option<Arc<CoreProviderMetadata>>,
    ) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        match self.discover().await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                let mut cache = self.lock_cache();
                cache.metadata = Some(metadata.clone());
                cache.refresh_at = Some(Instant::now() + METADATA_TTL);
                Ok(metadata)
            }
            Err(e) => match stale {
                Some(stale) => {
                    tracing::warn!(provider = %self.config.id, error = %e, "OIDC discovery refresh failed; using the cached document");
                    let mut cache = self.lock_cache();
                    cache.refresh_at = Some(Instant::now() + REFRESH_BACKOFF);
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    pub(super) fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a signature check failed with `used`: reloads the document and keys once, unless
    /// someone already did (then the newer document is returned) or a forced reload happened
    /// very recently (`None`).
    pub(super) async fn reload_keys(
        &self,
        used: &Arc<CoreProviderMetadata>,
    ) -> Option<Arc<CoreProviderMetadata>> {
        {
            let mut cache = self.lock_cache();
            if let Some(current) = &cache.metadata
                && !Arc::ptr_eq(current, used)
            {
                return Some(current.clone());
            }
            if cache
                .forced_at
                .is_some_and(|at| at.elapsed() < KEY_RELOAD_INTERVAL)
            {
                return None;
            }
            cache.forced_at = Some(Instant::now());
        }
        match self.discover().await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                let mut cache = self.lock_cache();
                cache.metadata = Some(metadata.clone());
                cache.refresh_at = Some(Instant::now() + METADATA_TTL);
                Some(metadata)
            }
            Err(e) => {
                tracing::warn!(provider = %self.config.id, error = %e, "OIDC key reload failed");
                None
            }
        }
    }

    async fn discover(&self) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(self.config.issuer_url.clone())
            .map_err(|e| self.config_error(format!("issuer_url: {e}")))?;
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| self.unavailable(format!("discovery failed: {}", chain(&e))))
    }

    /// Forgets the cached document (e.g. when an operator knows the provider rotated its
    /// keys). Not needed for rotation itself: a signature failure reloads the keys.
    pub async fn invalidate(&self) {
        *self.lock_cache() = Cache::default();
    }
}
