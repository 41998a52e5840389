//! Identity schemas: loading, compiling (jsonschema plus the `ory.sh/kratos` extension index),
//! validating traits and deriving addresses and identifiers from them.

mod address;
mod extension;
mod index;
mod load;
mod validate;

#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::PathBuf;

use jsonschema::{Draft, Keyword, PatternOptions, ValidationError, Validator, paths::Location};
use serde_json::{Map, Value};

pub use address::{AddressError, Via, normalize_email, normalize_phone};
pub use load::{SchemaRegistry, validate_file};
pub use validate::{Derived, TraitError, TraitErrorKind};

use extension::{Extension, KEYWORD};
use index::TraitEntry;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("identity schema {id:?}: cannot read {}: {source}", path.display())]
    Read {
        id: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("identity schema {id:?}: {url} not found (tried {tried})")]
    NotFound {
        id: String,
        url: String,
        tried: String,
    },
    #[error(
        "identity schema {id:?}: unsupported url {url:?}; use file://<path> or base64://<base64 JSON>"
    )]
    UnsupportedScheme { id: String, url: String },
    #[error("identity schema {id:?}: the base64:// url is not valid standard base64: {source}")]
    Base64 {
        id: String,
        #[source]
        source: base64::DecodeError,
    },
    #[error("identity schema {id:?}: {origin} is not valid JSON: {source}")]
    Json {
        id: String,
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("identity schema {id:?}: unsupported $schema {uri}; use draft-07 or 2020-12")]
    UnsupportedDraft { id: String, uri: String },
    #[error(
        "identity schema {id:?}: remote $ref {reference:?} is not supported; copy the referenced schema under definitions (or $defs) and refer to it with #/..."
    )]
    RemoteRef { id: String, reference: String },
    #[error("identity schema {id:?}: $ref {reference:?} does not point into the schema")]
    Reference { id: String, reference: String },
    #[error("identity schema {id:?}: invalid ory.sh/kratos extension at {pointer}: {message}")]
    Extension {
        id: String,
        pointer: String,
        message: String,
    },
    #[error("identity schema {id:?} is not a valid JSON schema: {message}")]
    Invalid { id: String, message: String },
    #[error("identity schema id {id:?} is configured more than once")]
    DuplicateId { id: String },
    #[error("default identity schema {id:?} is not among the configured schemas ({known})")]
    UnknownDefault { id: String, known: String },
}

/// A compiled identity schema. Cheap to share: the registry hands out `Arc`s.
pub struct IdentitySchema {
    pub id: String,
    pub raw: Value,
    draft: Draft,
    validator: Validator,
    index: Vec<TraitEntry>,
}

impl std::fmt::Debug for IdentitySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySchema")
            .field("id", &self.id)
            .field("draft", &self.draft)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl IdentitySchema {
    pub fn compile(id: &str, raw: Value) -> Result<Self, SchemaError> {
        let draft = draft_of(id, &raw)?;
        index::check_refs(id, &raw)?;
        // Indexed before jsonschema compiles so that a bad extension is reported with its pointer.
        let index = index::build_index(id, &raw)?;
        let validator = jsonschema::options()
            .with_draft(draft)
            .offline()
            .should_validate_formats(true)
            .with_format("tel", |s: &str| normalize_phone(s).is_ok())
            // The one normaliser decides what an address is, on every path: the verification
            // form, login identifiers and these formats accept the same strings.
            .with_format("email", |s: &str| normalize_email(s).is_ok())
            .with_format("idn-email", |s: &str| normalize_email(s).is_ok())
            // Linear-time matching: patterns run on user input, and Kratos (Go RE2) never
            // accepted backtracking-only syntax anyway.
            .with_pattern_options(PatternOptions::regex())
            .with_keyword(KEYWORD, kratos_keyword)
            .build(&raw)
            .map_err(|e| compile_error(id, &e))?;
        Ok(IdentitySchema {
            id: id.to_owned(),
            raw,
            draft,
            validator,
            index,
        })
    }

    /// Validates `traits` and derives what the extension marks. Returns every error found.
    pub fn evaluate(&self, traits: &Value) -> Result<Derived, Vec<TraitError>> {
        // Kratos schemas describe the identity document, with traits under `traits`.
        let doc = Value::Object(Map::from_iter([("traits".to_owned(), traits.clone())]));
        let mut errors: Vec<TraitError> = Vec::new();
        // `allOf` and `$ref` can make the same keyword fail twice for one value; a set keeps
        // this linear when traits hold long arrays.
        let mut seen = HashSet::new();
        for err in self.validator.iter_errors(&doc) {
            let mapped = validate::map_error(&err);
            if seen.insert((mapped.pointer.clone(), mapped.message.clone())) {
                errors.push(mapped);
            }
        }
        let derived = validate::derive(&self.index, &doc, &mut errors);
        if errors.is_empty() {
            Ok(derived)
        } else {
            Err(errors)
        }
    }

    /// `draft-07`, `2020-12`, ...
    pub fn draft_name(&self) -> &'static str {
        match self.draft {
            Draft::Draft4 => "draft-04",
            Draft::Draft6 => "draft-06",
            Draft::Draft7 => "draft-07",
            Draft::Draft201909 => "2019-09",
            _ => "2020-12",
        }
    }
}

/// Kratos schemas are draft-07 and often omit `$schema`, so that is the default rather than
/// jsonschema's 2020-12.
fn draft_of(id: &str, raw: &Value) -> Result<Draft, SchemaError> {
    if !raw.is_object() {
        return Err(SchemaError::Invalid {
            id: id.to_owned(),
            message: "the schema must be a JSON object".into(),
        });
    }
    match raw.get("$schema") {
        None => Ok(Draft::Draft7),
        Some(Value::String(uri)) => match Draft::from_schema_uri(uri) {
            Draft::Unknown => Err(SchemaError::UnsupportedDraft {
                id: id.to_owned(),
                uri: uri.clone(),
            }),
            draft => Ok(draft),
        },
        Some(other) => Err(SchemaError::UnsupportedDraft {
            id: id.to_owned(),
            uri: other.to_string(),
        }),
    }
}

fn compile_error(id: &str, err: &ValidationError<'_>) -> SchemaError {
    let at = err.instance_path().as_str();
    let message = if at.is_empty() {
        err.to_string()
    } else {
        format!("{err} at #{at}")
    };
    SchemaError::Invalid {
        id: id.to_owned(),
        message,
    }
}

/// Registered so that a malformed extension anywhere jsonschema compiles fails the build; the
/// data itself is read from the index, never through this keyword.
fn kratos_keyword<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _location: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    Extension::parse(value)
        .map_err(|e| ValidationError::schema(format!("invalid ory.sh/kratos extension: {e}")))?;
    Ok(Box::new(NoOp))
}

struct NoOp;

impl<'i> Keyword<'i> for NoOp {
    fn validate(&self, _instance: &'i Value) -> Result<(), ValidationError<'i>> {
        Ok(())
    }

    fn is_valid(&self, _instance: &'i Value) -> bool {
        true
    }
}
