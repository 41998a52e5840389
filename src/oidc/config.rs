//! `selfservice.methods.oidc.config.providers[]`, with Kratos's key names.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::OidcError;
use crate::config::Sensitive;

/// One social sign-in provider. Only `provider: generic` (any OpenID Connect issuer with
/// discovery) is supported; other Kratos provider kinds are refused at start.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Appears in the callback URL and in the identity's `oidc` credential.
    pub id: String,
    pub provider: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Sensitive,
    pub issuer_url: String,
    #[serde(default = "default_scope")]
    pub scope: Vec<String>,
    /// `file://path` or `base64://...` Jsonnet.
    pub mapper_url: String,
    /// Sent as the `claims` authorization parameter (OpenID Connect Core §5.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_claims: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn default_scope() -> Vec<String> {
    vec!["openid".into(), "email".into()]
}

impl ProviderConfig {
    /// Checks what serde cannot: the provider kind, the id and the URLs.
    pub fn validate(&self) -> Result<(), OidcError> {
        let err = |message: String| OidcError::Config {
            provider: self.id.clone(),
            message,
        };
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(err(
                "`id` must be non-empty and use only letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if self.provider != "generic" {
            return Err(err(format!(
                "provider kind {:?} is not supported; use \"generic\" with the provider's issuer_url",
                self.provider
            )));
        }
        if self.client_id.is_empty() {
            return Err(err("`client_id` is empty".into()));
        }
        let issuer = url::Url::parse(&self.issuer_url)
            .map_err(|e| err(format!("`issuer_url` is not a URL: {e}")))?;
        match issuer.scheme() {
            "https" => {}
            "http" if is_loopback(&issuer) => {}
            "http" => {
                return Err(err(
                    "`issuer_url` must use https (plain http only for a loopback host)".into(),
                ));
            }
            _ => return Err(err("`issuer_url` must be an https URL".into())),
        }
        if !self.mapper_url.starts_with("file://") && !self.mapper_url.starts_with("base64://") {
            return Err(err(
                "`mapper_url` must be file://<path> or base64://<Jsonnet>".into(),
            ));
        }
        Ok(())
    }

    /// Reads the mapper source; relative `file://` paths are tried against the working
    /// directory, then `base_dir` (the config file's folder).
    pub fn read_mapper(&self, base_dir: Option<&Path>) -> Result<String, OidcError> {
        crate::courier::templates::read_source(&self.mapper_url, base_dir).map_err(|message| {
            OidcError::Config {
                provider: self.id.clone(),
                message: format!("mapper_url: {message}"),
            }
        })
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<ProviderConfig, serde_json::Error> {
        serde_json::from_value(v)
    }

    fn minimal() -> serde_json::Value {
        json!({"id": "acme", "provider": "generic", "client_id": "verity", "client_secret": "s3cr3t-value",
               "issuer_url": "https://id.example.com", "mapper_url": "base64://e30="})
    }

    #[test]
    fn defaults_and_validation() {
        let c = parse(minimal()).unwrap();
        assert_eq!(c.scope, vec!["openid", "email"]);
        c.validate().unwrap();
        assert_eq!(c.read_mapper(None).unwrap(), "{}");
    }

    #[test]
    fn the_client_secret_never_prints() {
        let c = parse(minimal()).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        assert!(!serde_json::to_string(&c).unwrap().contains("s3cr3t-value"));
        assert_eq!(c.client_secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn other_provider_kinds_are_a_clear_error() {
        let mut v = minimal();
        v["provider"] = json!("google");
        let e = parse(v).unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("acme") && e.contains("google"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        let mut v = minimal();
        v["mapper"] = json!("x");
        assert!(parse(v).is_err());
        let mut v = minimal();
        v["mapper_url"] = json!("https://example.com/m.jsonnet");
        assert!(parse(v).unwrap().validate().is_err());
        let mut v = minimal();
        v["issuer_url"] = json!("not a url");
        assert!(parse(v).unwrap().validate().is_err());
    }

    #[test]
    fn plain_http_issuers_are_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:4444",
            "http://[::1]:4444/",
            "http://localhost/",
        ] {
            let mut v = minimal();
            v["issuer_url"] = json!(ok);
            parse(v).unwrap().validate().unwrap();
        }
        let mut v = minimal();
        v["issuer_url"] = json!("http://id.example.com");
        let e = parse(v).unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("acme") && e.contains("https"), "{e}");
    }

    #[test]
    fn a_missing_mapper_file_names_the_provider() {
        let mut v = minimal();
        v["mapper_url"] = json!("file:///nonexistent/verity/mapper.jsonnet");
        let e = parse(v).unwrap().read_mapper(None).unwrap_err().to_string();
        assert!(e.contains("acme") && e.contains("mapper"), "{e}");
    }

    #[test]
    fn providers_load_from_yaml_and_kratos_environment_variables() {
        let dir = std::env::temp_dir().join(format!("verity-oidc-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yml");
        let yaml = r#"
dsn: memory
identity:
  schemas: [{id: default, url: "base64://e30="}]
selfservice:
  default_browser_return_url: http://127.0.0.1:4455/
  methods:
    oidc:
      enabled: true
      config:
        providers:
          - id: acme
            provider: generic
            client_id: verity
            client_secret: from-the-file
            issuer_url: https://id.example.com
            mapper_url: base64://e30=
"#;
        std::fs::write(&path, yaml).unwrap();
        let env = [(
            "SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS_0_CLIENT_SECRET".to_owned(),
            "from-the-environment".to_owned(),
        )];
        let loaded = crate::config::load(&crate::config::ConfigSource::File(path), env);
        let _ = std::fs::remove_dir_all(&dir);
        let settings = loaded.unwrap();
        let providers = &settings.selfservice.methods.oidc.config.providers;
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].scope, vec!["openid", "email"]);
        assert_eq!(providers[0].client_secret.expose(), "from-the-environment");
        assert!(!format!("{settings:?}").contains("from-the-environment"));
        assert!(
            !serde_json::to_string(&settings)
                .unwrap()
                .contains("from-the-environment")
        );
    }
}
