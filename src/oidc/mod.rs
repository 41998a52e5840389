//! Social sign-in with OpenID Connect providers: configuration, the provider client, the
//! Jsonnet claims mapper and the rule that carries a provider's verified addresses over.
//!
//! The flow layer keeps one [`Providers`] (built at start), sends the browser to
//! [`Provider::authorization_request`], and on the callback calls [`Provider::exchange`],
//! then [`Provider::map`] and [`apply_verified_addresses`].

mod carry_over;
pub mod config;
mod discovery;
mod http;
pub mod mapper;
mod provider;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use carry_over::apply_verified_addresses;
pub use config::ProviderConfig;
pub use http::http_client;
pub use mapper::{Mapped, Mapper, MapperError};
pub use provider::{AuthRequest, Claims, Provider};

use crate::config::Settings;

/// Messages are safe to show a user: they name the provider and the reason, never a secret
/// or a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("OIDC provider {provider:?} is misconfigured: {message}")]
    Config { provider: String, message: String },
    #[error("unknown OIDC provider {0:?}")]
    UnknownProvider(String),
    #[error("the sign-in provider {provider:?} is unavailable: {message}")]
    Unavailable { provider: String, message: String },
    #[error("the sign-in provider {provider:?} refused the sign-in: {message}")]
    Rejected { provider: String, message: String },
    #[error("the ID token from {provider:?} is not valid: {message}")]
    InvalidIdToken { provider: String, message: String },
    #[error("sign-in provider {provider:?}: {source}")]
    Mapper {
        provider: String,
        #[source]
        source: MapperError,
    },
}

impl OidcError {
    /// The mapper returned `verified_addresses` in a shape Kratos answers with 400.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Self::Mapper {
                source: MapperError::InvalidVerifiedAddresses(_),
                ..
            }
        )
    }
}

/// The configured providers by id. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    by_id: Arc<BTreeMap<String, Arc<Provider>>>,
}

impl Providers {
    /// Validates every provider and reads and parses its mapper; nothing is fetched from the
    /// providers until first use. Relative `file://` mapper paths are tried against the working
    /// directory, then `base_dir`. `http` must not follow redirects: see [`http_client`].
    pub fn from_settings_at(
        settings: &Settings,
        http: reqwest::Client,
        base_dir: Option<&Path>,
    ) -> Result<Self, OidcError> {
        let oidc = &settings.selfservice.methods.oidc;
        if !oidc.enabled {
            return Ok(Self::default());
        }
        Self::from_configs(&oidc.config.providers, http, base_dir)
    }

    pub fn from_configs(
        configs: &[ProviderConfig],
        http: reqwest::Client,
        base_dir: Option<&Path>,
    ) -> Result<Self, OidcError> {
        let mut by_id = BTreeMap::new();
        for config in configs {
            config.validate()?;
            let code = config.read_mapper(base_dir)?;
            let mapper = Mapper::new(&code).map_err(|e| OidcError::Config {
                provider: config.id.clone(),
                message: format!("mapper_url: {e}"),
            })?;
            let provider = Provider::new(config.clone(), mapper, http.clone());
            if by_id
                .insert(config.id.clone(), Arc::new(provider))
                .is_some()
            {
                return Err(OidcError::Config {
                    provider: config.id.clone(),
                    message: "two providers have this id".into(),
                });
            }
        }
        Ok(Self {
            by_id: Arc::new(by_id),
        })
    }

    pub fn get(&self, id: &str) -> Result<&Arc<Provider>, OidcError> {
        self.by_id
            .get(id)
            .ok_or_else(|| OidcError::UnknownProvider(id.to_owned()))
    }

    /// In id order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.by_id.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(id: &str, mapper_url: &str) -> ProviderConfig {
        serde_json::from_value(json!({"id": id, "provider": "generic", "client_id": "c",
            "client_secret": "s", "issuer_url": "https://id.example.com", "mapper_url": mapper_url}))
        .unwrap()
    }

    fn build(configs: &[ProviderConfig]) -> Result<Providers, OidcError> {
        crate::install_crypto_provider();
        Providers::from_configs(configs, http_client(), None)
    }

    #[test]
    fn providers_are_found_by_id() {
        let p = build(&[config("a", "base64://e30="), config("b", "base64://e30=")]).unwrap();
        assert_eq!(p.get("b").unwrap().id(), "b");
        assert!(matches!(p.get("c"), Err(OidcError::UnknownProvider(_))));
        assert_eq!(p.iter().count(), 2);
    }

    #[test]
    fn mapper_problems_are_start_errors_naming_the_provider() {
        let missing = build(&[config("acme", "file:///nonexistent/verity.jsonnet")]).unwrap_err();
        assert!(matches!(&missing, OidcError::Config { provider, .. } if provider == "acme"));
        // base64 of "{ identity: " (a syntax error)
        let broken = build(&[config("acme", "base64://eyBpZGVudGl0eTog")]).unwrap_err();
        assert!(broken.to_string().contains("acme"), "{broken}");
        let dup = build(&[config("a", "base64://e30="), config("a", "base64://e30=")]);
        assert!(dup.is_err());
    }
}
