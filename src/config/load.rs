//! Layering: serde defaults, then the YAML file, then environment variables (figment).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Data, Format};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::env::KratosEnv;
use super::{Sensitive, Settings, VerificationStrategy};

/// The config that `verity serve --dev` falls back to when no file is given or found.
pub const BUNDLED_CONFIG: &str = include_str!("../../config.yml");

#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    /// The bundled `config.yml`, compiled into the binary.
    Bundled,
}

impl ConfigSource {
    pub fn describe(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Bundled => "the bundled config.yml".into(),
        }
    }
    /// Where relative `file://` paths in the config are resolved when not found in the
    /// working directory.
    pub fn base_dir(&self) -> Option<&Path> {
        match self {
            Self::File(p) => p.parent(),
            Self::Bundled => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid YAML: {message}")]
    Syntax { path: String, message: String },
    #[error("the configuration is invalid:\n{0}")]
    Invalid(String),
}

struct SaphyrYaml;

impl Format for SaphyrYaml {
    type Error = serde_saphyr::Error;
    const NAME: &'static str = "YAML";

    fn from_str<T: DeserializeOwned>(s: &str) -> Result<T, Self::Error> {
        serde_saphyr::from_str(s)
    }
}

/// Loads and checks the settings. `env` is passed in (normally `std::env::vars()`) so tests
/// are not at the mercy of the process environment.
pub fn load(
    source: &ConfigSource,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let (text, file_provider): (String, Data<SaphyrYaml>) = match source {
        ConfigSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            (text, SaphyrYaml::file_exact(path))
        }
        ConfigSource::Bundled => (
            BUNDLED_CONFIG.to_owned(),
            SaphyrYaml::string(BUNDLED_CONFIG),
        ),
    };
    let base: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: source.describe(),
            message: e.to_string(),
        })?
    };
    let schema = serde_json::to_value(schemars::schema_for!(Settings))
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let figment = Figment::new()
        .merge(file_provider)
        .merge(KratosEnv::new(&schema, &base, env));
    let settings: Settings = figment.extract().map_err(|e| describe(e, source))?;
    let problems = check(&settings);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::Invalid(problems.join("\n")))
    }
}

fn describe(err: figment::Error, source: &ConfigSource) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(top level)".to_owned()
            } else {
                e.path.join(".")
            };
            let origin = match &e.metadata {
                Some(m) if m.name == "environment variable" => {
                    let keys: Vec<&str> = e.path.iter().map(String::as_str).collect();
                    format!(
                        " (set by environment variable {})",
                        m.interpolate(&figment::Profile::Default, &keys)
                    )
                }
                _ => format!(" (in {})", source.describe()),
            };
            format!("  - `{key}`: {}{origin}", e.kind)
        })
        .collect();
    ConfigError::Invalid(lines.join("\n"))
}

/// Rules serde cannot express: lengths, ranges, URL syntax, references between keys.
fn check(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    let mut bad = |key: &str, what: String| out.push(format!("  - `{key}`: {what}"));
    for (key, list) in [
        ("secrets.default", &s.secrets.default),
        ("secrets.cookie", &s.secrets.cookie),
        ("secrets.pagination", &s.secrets.pagination),
    ] {
        for (i, secret) in list.iter().enumerate() {
            if secret.expose().chars().count() < 16 {
                bad(
                    &format!("{key}.{i}"),
                    "must be at least 16 characters long".into(),
                );
            }
        }
    }
    for (i, secret) in s.secrets.cipher.iter().enumerate() {
        if secret.expose().chars().count() != 32 {
            bad(
                &format!("secrets.cipher.{i}"),
                "must be exactly 32 characters long".into(),
            );
        }
    }
    let absolute = |v: &str| url::Url::parse(v).map(|u| u.has_host()).unwrap_or(false);
    for (key, value) in [
        ("serve.public.base_url", s.serve.public.base_url.as_deref()),
        ("serve.admin.base_url", s.serve.admin.base_url.as_deref()),
        (
            "selfservice.default_browser_return_url",
            Some(s.selfservice.default_browser_return_url.as_str()),
        ),
    ] {
        if let Some(v) = value
            && !absolute(v)
        {
            bad(
                key,
                format!("expected an absolute URL such as http://127.0.0.1:4433/, got {v:?}"),
            );
        }
    }
    if s.identity.schemas.is_empty() {
        bad(
            "identity.schemas",
            "at least one identity schema is required".into(),
        );
    }
    if !s
        .identity
        .schemas
        .iter()
        .any(|x| x.id == s.identity.default_schema_id)
    {
        bad(
            "identity.default_schema_id",
            format!(
                "no schema with id {:?} in identity.schemas",
                s.identity.default_schema_id
            ),
        );
    }
    if let Some(u) = s.selfservice.flows.recovery.strategy.as_deref()
        && !matches!(u, "code" | "link")
    {
        bad(
            "selfservice.flows.recovery.use",
            format!("must be code or link, got {u:?}"),
        );
    }
    let code = &s.selfservice.methods.code.config;
    if !(4..=10).contains(&code.length) {
        bad(
            "selfservice.methods.code.config.length",
            format!("must be between 4 and 10, got {}", code.length),
        );
    }
    if !(1..=255).contains(&code.max_submissions) {
        bad(
            "selfservice.methods.code.config.max_submissions",
            format!("must be between 1 and 255, got {}", code.max_submissions),
        );
    }
    if code.max_resends == 0 {
        bad(
            "selfservice.methods.code.config.max_resends",
            "must be at least 1".into(),
        );
    }
    let verification = &s.selfservice.flows.verification;
    if verification.enabled {
        let (name, enabled) = match verification.strategy {
            VerificationStrategy::Code => ("code", s.selfservice.methods.code.is_enabled()),
            VerificationStrategy::Link => ("link", s.selfservice.methods.link.enabled),
        };
        if !enabled {
            bad(
                "selfservice.flows.verification.use",
                format!(
                    "the active verification strategy {name} is not enabled; enable selfservice.methods.{name}"
                ),
            );
        }
    }
    for (i, channel) in s.courier.channels.iter().enumerate() {
        if channel.id != "sms" && channel.id != "voice" {
            bad(
                &format!("courier.channels.{i}.id"),
                format!("must be \"sms\" or \"voice\", got {:?}", channel.id),
            );
        }
        if channel.request_config.is_none() && channel.preset.is_none() {
            bad(
                &format!("courier.channels.{i}"),
                "needs request_config or preset".into(),
            );
        }
    }
    if let Some(uri) = &s.courier.smtp.connection_uri
        && !uri.expose().starts_with("smtp://")
        && !uri.expose().starts_with("smtps://")
    {
        bad(
            "courier.smtp.connection_uri",
            "must start with smtp:// or smtps://".into(),
        );
    }
    if s.hashers.argon2.iterations == 0 || s.hashers.argon2.parallelism == 0 {
        bad(
            "hashers.argon2",
            "iterations and parallelism must be at least 1".into(),
        );
    }
    out
}

impl Settings {
    /// For tests and tools: settings from YAML text alone, no environment.
    pub fn from_yaml(text: &str) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("verity-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(|source| ConfigError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("config.yml");
        std::fs::write(&path, text).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let result = load(&ConfigSource::File(path), std::iter::empty());
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// The DSN as given, for the persistence layer to parse.
    pub fn dsn(&self) -> &Sensitive {
        &self.dsn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "dsn: memory\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n";

    fn load_with(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("verity-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.yml");
        std::fs::write(&path, text).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        load(&ConfigSource::File(path), env)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let s = load_with(MINIMAL, &[]).unwrap();
        assert_eq!(s.session.cookie.name, "ory_kratos_session");
        assert_eq!(
            s.selfservice.methods.code.config.lifespan.whole_minutes(),
            10
        );
        assert_eq!(s.courier.message_retries, 5);
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = load_with(
            MINIMAL,
            &[("SERVE_PUBLIC_PORT", "5005"), ("DSN", "sqlite://x.db")],
        )
        .unwrap();
        assert_eq!(s.serve.public.port, Some(5005));
        assert_eq!(s.dsn.expose(), "sqlite://x.db");
    }

    #[test]
    fn unknown_key_names_its_path() {
        let err =
            load_with(&format!("{MINIMAL}serve:\n  public:\n    prot: 1\n"), &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("serve.public"), "{text}");
        assert!(text.contains("prot"), "{text}");
    }

    #[test]
    fn wrong_type_names_path_and_expectation() {
        let err = load_with(
            &format!("{MINIMAL}serve:\n  public:\n    port: eighty\n"),
            &[],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("serve.public.port"), "{text}");
        assert!(text.contains("u16"), "{text}");
    }

    #[test]
    fn wrong_type_from_environment_names_the_variable() {
        let err = load_with(MINIMAL, &[("SERVE_ADMIN_PORT", "eighty")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SERVE_ADMIN_PORT"), "{text}");
    }

    #[test]
    fn missing_required_key_is_named() {
        let err = load_with("dsn: memory\n", &[]).unwrap_err();
        assert!(err.to_string().contains("identity"), "{err}");
    }

    #[test]
    fn short_secret_is_refused() {
        let err = load_with(&format!("{MINIMAL}secrets:\n  default: [short]\n"), &[]).unwrap_err();
        assert!(err.to_string().contains("secrets.default.0"), "{err}");
    }

    #[test]
    fn the_bundled_config_is_valid() {
        load(&ConfigSource::Bundled, std::iter::empty()).unwrap();
    }
}
