//! Where identity schemas come from: `file://` and `base64://` urls, with bundled copies of the
//! shipped schemas so that the binary works without the repository next to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::{IdentitySchema, SchemaError};

const BUNDLED: [(&str, &str); 4] = [
    (
        "identity-schemas/email.schema.json",
        include_str!("../../identity-schemas/email.schema.json"),
    ),
    (
        "identity-schemas/phone.schema.json",
        include_str!("../../identity-schemas/phone.schema.json"),
    ),
    (
        "identity-schemas/email-and-phone.schema.json",
        include_str!("../../identity-schemas/email-and-phone.schema.json"),
    ),
    (
        "identity-schemas/username.schema.json",
        include_str!("../../identity-schemas/username.schema.json"),
    ),
];

/// Standard alphabet; padding optional because hand-made config values often drop it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Every configured identity schema, compiled once at startup.
#[derive(Debug)]
pub struct SchemaRegistry {
    schemas: Vec<Arc<IdentitySchema>>,
    default_id: String,
}

impl SchemaRegistry {
    /// Loads every `(id, url)`. `file://<path>` takes the path literally; a relative path is
    /// tried against the working directory, then `base_dir`, then the bundled schemas.
    pub fn load(
        sources: &[(String, String)],
        default_id: &str,
        base_dir: Option<&Path>,
    ) -> Result<Self, SchemaError> {
        Self::load_in(sources, default_id, base_dir, None)
    }

    /// `load` with relative paths tried against `cwd` instead of the process's working
    /// directory, which tests cannot change without racing each other.
    pub(super) fn load_in(
        sources: &[(String, String)],
        default_id: &str,
        base_dir: Option<&Path>,
        cwd: Option<&Path>,
    ) -> Result<Self, SchemaError> {
        let mut schemas: Vec<Arc<IdentitySchema>> = Vec::with_capacity(sources.len());
        for (id, url) in sources {
            if schemas.iter().any(|s| &s.id == id) {
                return Err(SchemaError::DuplicateId { id: id.clone() });
            }
            let raw = fetch(id, url, base_dir, cwd)?;
            schemas.push(Arc::new(IdentitySchema::compile(id, raw)?));
        }
        if !schemas.iter().any(|s| s.id == default_id) {
            let known = schemas
                .iter()
                .map(|s| format!("{:?}", s.id))
                .collect::<Vec<_>>();
            return Err(SchemaError::UnknownDefault {
                id: default_id.to_owned(),
                known: if known.is_empty() {
                    "none configured".to_owned()
                } else {
                    known.join(", ")
                },
            });
        }
        Ok(SchemaRegistry {
            schemas,
            default_id: default_id.to_owned(),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<IdentitySchema>> {
        self.schemas.iter().find(|s| s.id == id)
    }

    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// The default schema; `load` guarantees it exists.
    pub fn default_schema(&self) -> Option<&Arc<IdentitySchema>> {
        self.get(&self.default_id)
    }

    /// In configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<IdentitySchema>> {
        self.schemas.iter()
    }
}

fn fetch(
    id: &str,
    url: &str,
    base_dir: Option<&Path>,
    cwd: Option<&Path>,
) -> Result<Value, SchemaError> {
    if let Some(path) = url.strip_prefix("file://") {
        fetch_file(id, url, path, base_dir, cwd)
    } else if let Some(encoded) = url.strip_prefix("base64://") {
        let bytes = BASE64
            .decode(encoded)
            .map_err(|source| SchemaError::Base64 {
                id: id.to_owned(),
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|source| SchemaError::Json {
            id: id.to_owned(),
            origin: "the base64:// url".to_owned(),
            source,
        })
    } else {
        Err(SchemaError::UnsupportedScheme {
            id: id.to_owned(),
            url: url.to_owned(),
        })
    }
}

fn fetch_file(
    id: &str,
    url: &str,
    path: &str,
    base_dir: Option<&Path>,
    cwd: Option<&Path>,
) -> Result<Value, SchemaError> {
    let literal = Path::new(path);
    let first = match cwd {
        Some(cwd) => cwd.join(literal),
        None => literal.to_path_buf(),
    };
    let mut candidates: Vec<PathBuf> = vec![first];
    if literal.is_relative()
        && let Some(base) = base_dir
    {
        candidates.push(base.join(literal));
    }
    for candidate in &candidates {
        match std::fs::read_to_string(candidate) {
            Ok(text) => return parse(id, &candidate.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Anything but "not there" (permissions, a directory) is an operator error that a
            // silent fallback to the bundled copy would hide.
            Err(source) => {
                return Err(SchemaError::Read {
                    id: id.to_owned(),
                    path: candidate.clone(),
                    source,
                });
            }
        }
    }
    if literal.is_relative()
        && let Some(text) = bundled(path)
    {
        return parse(id, &format!("bundled {path}"), text);
    }
    Err(SchemaError::NotFound {
        id: id.to_owned(),
        url: url.to_owned(),
        tried: candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn bundled(path: &str) -> Option<&'static str> {
    let mut relative = path;
    while let Some(rest) = relative.strip_prefix("./") {
        relative = rest;
    }
    BUNDLED
        .iter()
        .find(|(name, _)| *name == relative)
        .map(|(_, text)| *text)
}

fn parse(id: &str, origin: &str, text: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(text).map_err(|source| SchemaError::Json {
        id: id.to_owned(),
        origin: origin.to_owned(),
        source,
    })
}

/// For `verity schema validate FILE`: compiles the file and describes what its extension marks.
pub fn validate_file(path: &Path) -> Result<Vec<String>, SchemaError> {
    let id = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Read {
        id: id.clone(),
        path: path.to_path_buf(),
        source,
    })?;
    let raw = parse(&id, &id, &text)?;
    let schema = IdentitySchema::compile(&id, raw)?;

    let mut lines = vec![format!(
        "{id}: valid {} identity schema",
        schema.draft_name()
    )];
    if schema.raw.pointer("/properties/traits").is_none() {
        lines.push("warning: no properties.traits, so identities can have no traits".to_owned());
    }
    for entry in &schema.index {
        let format = entry
            .format
            .as_deref()
            .map(|f| format!(" (format {f})"))
            .unwrap_or_default();
        lines.push(format!(
            "{}{format}: {}",
            entry.pointer(),
            entry.extension.describe()
        ));
    }
    let can_sign_in = schema
        .index
        .iter()
        .any(|e| e.extension.password_identifier() || e.extension.code_via().is_some());
    if !can_sign_in {
        lines.push(
            "warning: no trait is a password or code identifier, so nobody can sign in".to_owned(),
        );
    }
    Ok(lines)
}
