//! One OpenID Connect provider: discovery (lazy and cached), the authorization request and the
//! code exchange with ID token verification.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OidcError;
use super::config::ProviderConfig;
use super::http::{Http, HttpError};
use super::mapper::{Mapped, Mapper};

/// Provider metadata and keys are refetched after this long, so rotated keys are picked up.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// After a failed refresh the previous document is served for this long before retrying.
const REFRESH_BACKOFF: Duration = Duration::from_secs(30);
/// At most one reload per this interval because of an ID token signed with an unknown key,
/// so forged tokens cannot make us hammer the provider.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// Everything the flow must keep (server-side) between the redirect to the provider and the
/// callback. `Debug` hides the values: they are one-time secrets.
#[derive(Clone)]
pub struct AuthRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("state", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The verified ID token's claims merged with the userinfo claims; `sub` is always present.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub Value);

impl Claims {
    pub fn subject(&self) -> &str {
        self.0["sub"].as_str().unwrap_or_default()
    }
}

/// Keeps every claim the provider sent, not only the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct RawClaims(Map<String, Value>);
impl AdditionalClaims for RawClaims {}

type RawIdToken =
    IdToken<RawClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Default)]
struct Cache {
    metadata: Option<Arc<CoreProviderMetadata>>,
    /// When the cached document is due for a refresh (TTL, or the backoff after a failure).
    refresh_at: Option<Instant>,
    /// The last reload forced by a signature failure.
    forced_at: Option<Instant>,
}

pub struct Provider {
    config: ProviderConfig,
    mapper: Mapper,
    http: Http,
    /// Held only to read or update the cache, never across network I/O.
    cache: std::sync::Mutex<Cache>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.config.id)
            .field("issuer_url", &self.config.issuer_url)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn new(config: ProviderConfig, mapper: Mapper, http: reqwest::Client) -> Self {
        Self {
            config,
            mapper,
            http: Http(http),
            cache: std::sync::Mutex::new(Cache::default()),
        }
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

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

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a signature check failed with `used`: reloads the document and keys once, unless
    /// someone already did (then the newer document is returned) or a forced reload happened
    /// very recently (`None`).
    async fn reload_keys(
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

    async fn client(&self, redirect_uri: &str) -> Result<Client, OidcError> {
        let metadata = self.metadata().await?;
        self.client_for(&metadata, redirect_uri)
    }

    fn client_for(
        &self,
        metadata: &CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| self.config_error(format!("redirect URI: {e}")))?;
        let secret = Some(self.config.client_secret.expose())
            .filter(|s| !s.is_empty())
            .map(|s| ClientSecret::new(s.to_owned()));
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser, plus the state, nonce and PKCE verifier to keep for the
    /// callback.
    pub async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthRequest, OidcError> {
        self.authorization_request_for(redirect_uri, None).await
    }

    /// As `authorization_request`, with the state `<prefix>.<random>` so the callback can
    /// find what it belongs to; the random part keeps it unguessable.
    pub async fn authorization_request_for(
        &self,
        redirect_uri: &str,
        state_prefix: Option<&str>,
    ) -> Result<AuthRequest, OidcError> {
        let client = self.client(redirect_uri).await?;
        let state_prefix = state_prefix.map(str::to_owned);
        let state = move || {
            let random = CsrfToken::new_random_len(32);
            match state_prefix {
                Some(p) => CsrfToken::new(format!("{p}.{}", random.secret())),
                None => random,
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, state, || {
                Nonce::new_random_len(32)
            })
            .set_pkce_challenge(challenge);
        // `openid` is always sent by the client itself.
        for scope in self.config.scope.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let claims = self.config.requested_claims.as_ref().map(Value::to_string);
        if let Some(claims) = &claims {
            request = request.add_extra_param("claims", claims.as_str());
        }
        let (url, state, nonce) = request.url();
        Ok(AuthRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems `code`, verifies the ID token (signature against the provider's keys, issuer,
    /// audience, expiry, nonce) and returns its claims merged with the userinfo claims. On a
    /// conflict the ID token wins: it is signed, the userinfo answer is not necessarily.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        redirect_uri: &str,
    ) -> Result<Claims, OidcError> {
        let metadata = self.metadata().await?;
        let mut client = self.client_for(&metadata, redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| self.unavailable("it has no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| self.token_error(e))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| self.invalid_token("the token response has no ID token".into()))?;
        let raw: RawIdToken = id_token
            .to_string()
            .parse()
            .map_err(|_| self.invalid_token("it is not a JWT".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let first = raw.claims(&client.id_token_verifier(), &nonce).cloned();
        let verified = match first {
            Ok(claims) => claims,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(first)) => {
                // The provider may have rotated its keys: reload them once and verify the
                // same token again (the code is spent; there is no second exchange).
                let Some(fresh) = self.reload_keys(&metadata).await else {
                    return Err(self.invalid_token(format!("signature: {first}")));
                };
                client = self.client_for(&fresh, redirect_uri)?;
                raw.claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| self.invalid_token(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(self.invalid_token(e.to_string())),
        };
        let subject = verified.subject().clone();
        let mut claims = match serde_json::to_value(&verified) {
            Ok(Value::Object(map)) => map,
            _ => return Err(self.invalid_token("its claims are not an object".into())),
        };
        for protocol_only in ["nonce", "at_hash", "c_hash"] {
            claims.remove(protocol_only);
        }
        if client.user_info_url().is_some() {
            let request = client
                .user_info(token.access_token().clone(), Some(subject))
                .map_err(|e| self.unavailable(e.to_string()))?;
            let info: UserInfoClaims<RawClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(|e| self.rejected(format!("userinfo: {}", chain(&e))))?;
            if let Ok(Value::Object(extra)) = serde_json::to_value(&info) {
                for (k, v) in extra {
                    claims.entry(k).or_insert(v);
                }
            }
        }
        Ok(Claims(Value::Object(claims)))
    }

    /// Runs this provider's Jsonnet mapper on `claims`.
    pub async fn map(&self, claims: &Claims) -> Result<Mapped, OidcError> {
        self.mapper
            .map_async(claims.0.clone())
            .await
            .map_err(|source| OidcError::Mapper {
                provider: self.config.id.clone(),
                source,
            })
    }

    fn token_error(
        &self,
        e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
    ) -> OidcError {
        match e {
            RequestTokenError::ServerResponse(r) => {
                let mut message = r.error().to_string();
                if let Some(d) = r.error_description() {
                    message.push_str(&format!(" ({d})"));
                }
                self.rejected(message)
            }
            RequestTokenError::Request(e) => self.unavailable(format!("token request failed: {e}")),
            // The body is not echoed: it may hold tokens.
            RequestTokenError::Parse(_, _) => {
                self.unavailable("the token response is not readable".into())
            }
            RequestTokenError::Other(m) => self.unavailable(m),
        }
    }

    fn config_error(&self, message: String) -> OidcError {
        OidcError::Config {
            provider: self.config.id.clone(),
            message,
        }
    }
    fn unavailable(&self, message: String) -> OidcError {
        OidcError::Unavailable {
            provider: self.config.id.clone(),
            message,
        }
    }
    fn rejected(&self, message: String) -> OidcError {
        OidcError::Rejected {
            provider: self.config.id.clone(),
            message,
        }
    }
    fn invalid_token(&self, message: String) -> OidcError {
        OidcError::InvalidIdToken {
            provider: self.config.id.clone(),
            message,
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
