//! One OpenID Connect provider: the authorization request and the
//! code exchange with ID token verification.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OidcError;
use super::config::ProviderConfig;
use super::discovery::Cache;
use super::http::{Http, HttpError};
use super::mapper::{Mapped, Mapper};

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

pub struct Provider {
    pub(super) config: ProviderConfig,
    mapper: Mapper,
    pub(super) http: Http,
    /// Held only to read or update the cache, never across network I/O.
    pub(super) cache: std::sync::Mutex<Cache>,
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

    pub(super) fn config_error(&self, message: String) -> OidcError {
        OidcError::Config {
            provider: self.config.id.clone(),
            message,
        }
    }
    pub(super) fn unavailable(&self, message: String) -> OidcError {
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

pub(super) fn chain(e: &dyn std::error::Error) -> String {
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
