//! Layering: serde defaults, then the YAML file, then environment variables (figment).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Data, Format};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::env::KratosEnv;
use super::{Sensitive, Settings};

/// The config that `verity serve --dev` falls back to when no file is given or found.
pub const BUNDLED_CONFIG: &str = include_str!("../../config.yml");

#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    /// Several files (`-c a.yml -c b.yml`), each overriding the ones before it, as Kratos
    /// merges them: maps merge key by key, lists and values are replaced.
    Files(Vec<PathBuf>),
    /// The bundled `config.yml`, compiled into the binary.
    Bundled,
}

impl ConfigSource {
    pub fn describe(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Files(ps) => ps
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Self::Bundled => "the bundled config.yml".into(),
        }
    }
    /// Where relative `file://` paths in the config are resolved when not found in the
    /// working directory.
    pub fn base_dir(&self) -> Option<&Path> {
        match self {
            Self::File(p) => p.parent(),
            Self::Files(ps) => ps.first().and_then(|p| p.parent()),
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
    let files: Vec<(String, Data<SaphyrYaml>, String)> = match source {
        ConfigSource::File(path) => vec![read(path)?],
        ConfigSource::Files(paths) => paths.iter().map(|p| read(p)).collect::<Result<_, _>>()?,
        ConfigSource::Bundled => vec![(
            BUNDLED_CONFIG.to_owned(),
            SaphyrYaml::string(BUNDLED_CONFIG),
            source.describe(),
        )],
    };
    let mut base = Value::Object(Default::default());
    for (text, _, name) in &files {
        if !text.trim().is_empty() {
            let value: Value = serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
                path: name.clone(),
                message: e.to_string(),
            })?;
            merge_into(&mut base, value);
        }
    }
    let schema = serde_json::to_value(schemars::schema_for!(Settings))
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let figment = files
        .into_iter()
        .fold(Figment::new(), |f, (_, provider, _)| f.merge(provider))
        .merge(KratosEnv::new(&schema, &base, env));
    let mut merged: Value = figment
        .extract()
        .map_err(|e| ConfigError::Invalid(describe(e, &figment, source).join("\n")))?;
    let report = super::keys::sort_keys(&mut merged, &schema);
    let mut problems = report.errors;
    let parsed = extract_all(&mut merged, &figment, source, &mut problems);
    if let Some(s) = &parsed {
        problems.extend(super::check::check(s));
    }
    match parsed {
        Some(mut settings) if problems.is_empty() => {
            settings.warnings = report.warnings;
            Ok(settings)
        }
        _ => {
            if !report.warnings.is_empty() {
                problems.push(format!(
                    "and {} warning(s) (Kratos keys Verity ignores):",
                    report.warnings.len()
                ));
                problems.extend(report.warnings);
            }
            Err(ConfigError::Invalid(problems.join("\n")))
        }
    }
}

fn read(path: &Path) -> Result<(String, Data<SaphyrYaml>, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok((
        text,
        SaphyrYaml::file_exact(path),
        path.display().to_string(),
    ))
}

/// A later file over an earlier one: maps merge, anything else is replaced.
fn merge_into(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge_into(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Deserializes the settings, and on each error records it, drops the offending value (so its
/// default applies) and tries again: one run reports every wrongly typed key, not the first.
fn extract_all(
    merged: &mut Value,
    figment: &Figment,
    source: &ConfigSource,
    problems: &mut Vec<String>,
) -> Option<Settings> {
    for _ in 0..64 {
        let attempt = Figment::from(figment::providers::Serialized::defaults(&*merged));
        let err = match attempt.extract::<Settings>() {
            Ok(s) => return Some(s),
            Err(e) => e,
        };
        let paths: Vec<Vec<String>> = err
            .clone()
            .into_iter()
            .filter(|e| !matches!(e.kind, figment::error::Kind::MissingField(_)))
            .map(|e| e.path)
            .collect();
        problems.extend(describe(err, figment, source));
        if !paths.iter().any(|p| remove_path(merged, p)) {
            return None;
        }
    }
    None
}

/// Removes the value at `path`; false when nothing was there (a missing required key).
fn remove_path(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut here = value;
    for seg in parents {
        let next = match here {
            Value::Object(m) => m.get_mut(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => here = n,
            None => return false,
        }
    }
    match here {
        Value::Object(m) => m.remove(last).is_some(),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn describe(err: figment::Error, figment: &Figment, source: &ConfigSource) -> Vec<String> {
    use figment::error::Kind;
    err.into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            if let Kind::MissingField(f) = &e.kind {
                path.push(f.to_string());
            }
            let key = if path.is_empty() {
                "(top level)".to_owned()
            } else {
                path.join(".")
            };
            let origin = match figment.find_metadata(&key) {
                Some(m) if m.name == "environment variable" => {
                    let keys: Vec<&str> = e.path.iter().map(String::as_str).collect();
                    format!(
                        " (set by environment variable {})",
                        m.interpolate(&figment::Profile::Default, &keys)
                    )
                }
                Some(m) => match &m.source {
                    Some(figment::Source::File(p)) => format!(" (in {})", p.display()),
                    _ => format!(" (in {})", source.describe()),
                },
                None => format!(" (in {})", source.describe()),
            };
            let fix = match &e.kind {
                Kind::MissingField(_) => "add it (or set its environment variable)".to_owned(),
                Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                    format!("give {}", plain_type(expected))
                }
                Kind::UnknownVariant(_, one_of) => format!("use one of {}", one_of.join(", ")),
                Kind::UnknownField(_, _) => "remove it".to_owned(),
                _ => "correct the value".to_owned(),
            };
            format!("  - `{key}`: {}{origin}. Fix: {fix}.", e.kind)
        })
        .collect()
}

/// serde's names for the expected type, in words.
fn plain_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            format!("a whole number that fits {expected} (no quotes, no sign)")
        }
        "i32" | "i64" => "a whole number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_owned(),
    }
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
#[path = "load_tests.rs"]
mod tests;
