//! The OIDC provider client against a real OpenID provider (tests/oidc): discovery, the
//! authorization request, sign-in at the provider, the code exchange and its failure modes.

use serde_json::{Value, json};
use verity::oidc::{OidcError, Provider, ProviderConfig, Providers, http_client};
use verity::schema::Via;

use crate::oidc_support::{OidcProvider, browser, login_via_provider};

const REDIRECT: &str = "http://127.0.0.1:4455/self-service/methods/oidc/callback/acme";
const SECRET: &str = "client-secret-for-tests-0123456789";

/// Kratos's documented "carry over verified status" mapper.
const MAPPER: &str = r#"
local claims = { email_verified: false } + std.extVar('claims');
{
  identity: {
    traits: {
      [if 'email' in claims && claims.email_verified then 'email' else null]: claims.email,
      name: claims.name,
    },
    verified_addresses: std.prune([
      if 'email' in claims && claims.email_verified then { via: 'email', value: claims.email },
    ]),
  },
}
"#;

fn accounts() -> Value {
    json!({
        "ada": {"email": "Ada@Example.com", "email_verified": true, "name": "Ada Lovelace"},
        "bob": {"email": "bob@example.com", "email_verified": false, "name": "Bob"},
    })
}

fn client() -> Value {
    json!({"client_id": "verity", "client_secret": SECRET, "redirect_uris": [REDIRECT]})
}

fn providers_for(issuer: &str) -> Providers {
    verity::install_crypto_provider();
    use base64::Engine as _;
    let mapper = base64::engine::general_purpose::STANDARD.encode(MAPPER);
    let config: ProviderConfig = serde_json::from_value(json!({
        "id": "acme", "provider": "generic", "client_id": "verity", "client_secret": SECRET,
        "issuer_url": issuer, "scope": ["openid", "email", "profile"],
        "mapper_url": format!("base64://{mapper}"),
    }))
    .unwrap();
    Providers::from_configs(&[config], http_client(), None).unwrap()
}

async fn start() -> Option<(OidcProvider, Providers)> {
    let op = OidcProvider::start(accounts(), client()).await?;
    let providers = providers_for(&op.issuer);
    Some((op, providers))
}

/// Authorization request, sign-in as `account`, and the `code` from the callback.
async fn sign_in(provider: &Provider, account: &str) -> (verity::oidc::AuthRequest, String) {
    let auth = provider.authorization_request(REDIRECT).await.unwrap();
    let callback = login_via_provider(&browser(), &auth.url, account).await;
    let url = url::Url::parse(&callback).unwrap();
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(auth.state.as_str()));
    (auth.clone(), param("code").expect("code in the callback"))
}

#[tokio::test]
async fn discovery_finds_the_provider_and_its_keys() {
    let Some((op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let metadata = provider.metadata().await.unwrap();
    assert_eq!(metadata.issuer().as_str(), op.issuer);
    assert_eq!(op.issuer, format!("http://127.0.0.1:{}", op.port));
    assert!(!metadata.jwks().keys().is_empty());
    assert!(metadata.userinfo_endpoint().is_some());
    assert!(matches!(
        providers.get("nope"),
        Err(OidcError::UnknownProvider(_))
    ));
}

#[tokio::test]
async fn the_authorization_request_uses_pkce_state_and_nonce() {
    let Some((op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let auth = provider.authorization_request(REDIRECT).await.unwrap();
    assert!(
        auth.url.starts_with(&format!("{}/auth?", op.issuer)),
        "{}",
        auth.url
    );
    let url = url::Url::parse(&auth.url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "verity");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], auth.state);
    assert_eq!(q["nonce"], auth.nonce);
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    assert!(q["scope"].split(' ').any(|s| s == "profile"));
    // 32 random bytes, base64url: 256 bits of state.
    assert!(auth.state.len() >= 43, "{}", auth.state);
    assert!(!q.values().any(|v| v == &auth.pkce_verifier));
    // Secrets stay out of Debug output.
    assert!(!format!("{auth:?}").contains(&auth.state));
    let second = provider.authorization_request(REDIRECT).await.unwrap();
    assert_ne!(second.state, auth.state);
    assert_ne!(second.nonce, auth.nonce);
    assert_ne!(second.pkce_verifier, auth.pkce_verifier);
}

#[tokio::test]
async fn exchange_returns_verified_claims_and_the_mapper_carries_the_email() {
    let Some((_op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let (auth, code) = sign_in(provider, "ada").await;
    let claims = provider
        .exchange(&code, &auth.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap();
    assert_eq!(claims.subject(), "ada");
    assert_eq!(claims.0["email"], "Ada@Example.com");
    assert_eq!(claims.0["email_verified"], true);
    assert_eq!(claims.0["name"], "Ada Lovelace");
    assert!(claims.0.get("nonce").is_none());

    let mapped = provider.map(&claims).await.unwrap();
    assert_eq!(mapped.traits["email"], "Ada@Example.com");
    assert_eq!(
        mapped.verified_addresses,
        vec![(Via::Email, "ada@example.com".to_owned())]
    );
}

#[tokio::test]
async fn an_unverified_email_is_not_carried_over() {
    let Some((_op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let (auth, code) = sign_in(provider, "bob").await;
    let claims = provider
        .exchange(&code, &auth.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap();
    assert_eq!(claims.0["email_verified"], false);
    let mapped = provider.map(&claims).await.unwrap();
    assert!(mapped.verified_addresses.is_empty());
}

#[tokio::test]
async fn a_tampered_nonce_is_refused() {
    let Some((_op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let (auth, code) = sign_in(provider, "ada").await;
    let err = provider
        .exchange(&code, &auth.pkce_verifier, "not-the-nonce", REDIRECT)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::InvalidIdToken { .. }), "{err}");
    assert!(err.to_string().to_lowercase().contains("nonce"), "{err}");
}

#[tokio::test]
async fn a_replayed_code_is_refused_by_the_provider() {
    let Some((_op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let (auth, code) = sign_in(provider, "ada").await;
    provider
        .exchange(&code, &auth.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap();
    let err = provider
        .exchange(&code, &auth.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Rejected { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(!text.contains(&code) && !text.contains(SECRET), "{text}");
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    let Some((_op, providers)) = start().await else {
        return;
    };
    let provider = providers.get("acme").unwrap();
    let (auth, code) = sign_in(provider, "ada").await;
    let other = provider.authorization_request(REDIRECT).await.unwrap();
    let err = provider
        .exchange(&code, &other.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_error_and_retried_later() {
    if !crate::oidc_support::provider_available() {
        return;
    }
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let providers = providers_for(&format!("http://127.0.0.1:{port}"));
    let provider = providers.get("acme").unwrap();
    let err = provider.authorization_request(REDIRECT).await.unwrap_err();
    assert!(matches!(err, OidcError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("acme"), "{err}");
    let err = provider
        .exchange("code", "verifier", "nonce", REDIRECT)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Unavailable { .. }), "{err}");

    // The failure was not cached: once the provider is up, the same client works.
    let Some(_op) = OidcProvider::start_on(port, accounts(), client()).await else {
        return;
    };
    let (auth, code) = sign_in(provider, "ada").await;
    let claims = provider
        .exchange(&code, &auth.pkce_verifier, &auth.nonce, REDIRECT)
        .await
        .unwrap();
    assert_eq!(claims.subject(), "ada");
}
