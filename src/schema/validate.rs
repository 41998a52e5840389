//! Turning jsonschema errors and extension data into what flows consume: `TraitError`s that map to
//! Kratos message ids, and the addresses and identifiers the extension marks.

use jsonschema::ValidationError;
use std::collections::HashSet;
use std::hash::Hash;
use std::mem::{Discriminant, discriminant};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::address::{Via, normalize_email, normalize_phone};
use super::index::TraitEntry;

/// What the `ory.sh/kratos` extension derives from valid traits. Values are normalised and each
/// list is free of duplicates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    pub verifiable: Vec<(Via, String)>,
    pub recovery: Vec<(Via, String)>,
    pub password_identifiers: Vec<String>,
    pub code_identifiers: Vec<(Via, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraitError {
    /// JSON pointer into the identity document, e.g. `#/traits/email`.
    pub pointer: String,
    pub message: String,
    pub kind: TraitErrorKind,
}

/// Enough detail for the caller to pick the Kratos message id (and its context) per error.
#[derive(Debug, Clone, PartialEq)]
pub enum TraitErrorKind {
    /// 4000002
    Required { property: String },
    /// 4000003
    MinLength { min: u64, actual: u64 },
    /// 4000017
    MaxLength { max: u64, actual: u64 },
    /// 4000004
    Pattern { pattern: String },
    /// 4000040
    InvalidEmail { value: String },
    /// 4000041
    InvalidPhone { value: String },
    /// 4000026
    Type { expected: String, actual: String },
    /// 4000001 with `message` as the reason.
    Other,
}

impl TraitError {
    fn invalid_email(pointer: String, value: &str) -> Self {
        TraitError {
            pointer,
            message: format!("{} is not a valid \"email\"", quoted(value)),
            kind: TraitErrorKind::InvalidEmail {
                value: value.to_owned(),
            },
        }
    }

    fn invalid_phone(pointer: String, value: &str) -> Self {
        TraitError {
            pointer,
            message: format!("{} is not a valid \"tel\"", quoted(value)),
            kind: TraitErrorKind::InvalidPhone {
                value: value.to_owned(),
            },
        }
    }
}

/// JSON quoting, so messages read the same whether jsonschema or we produced them.
fn quoted(value: &str) -> String {
    Value::String(value.to_owned()).to_string()
}

fn as_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn char_len(value: &Value) -> u64 {
    value.as_str().map_or(0, |s| s.chars().count() as u64)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn map_error(err: &ValidationError<'_>) -> TraitError {
    let pointer = format!("#{}", err.instance_path().as_str());
    let instance: &Value = err.instance();
    let (kind, message) = match err.kind() {
        ValidationErrorKind::Required { property } => {
            let property = as_text(property);
            let message = format!("Property {property} is missing.");
            (TraitErrorKind::Required { property }, message)
        }
        ValidationErrorKind::MinLength { limit } => {
            let actual = char_len(instance);
            let message = format!("length must be >= {limit}, but got {actual}");
            (
                TraitErrorKind::MinLength {
                    min: *limit,
                    actual,
                },
                message,
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            let actual = char_len(instance);
            let message = format!("length must be <= {limit}, but got {actual}");
            (
                TraitErrorKind::MaxLength {
                    max: *limit,
                    actual,
                },
                message,
            )
        }
        ValidationErrorKind::Pattern { pattern } => (
            TraitErrorKind::Pattern {
                pattern: pattern.clone(),
            },
            format!("does not match pattern {}", quoted(pattern)),
        ),
        ValidationErrorKind::Format { format }
            if matches!(format.as_str(), "email" | "idn-email") =>
        {
            return TraitError::invalid_email(pointer, &as_text(instance));
        }
        ValidationErrorKind::Format { format } if format == "tel" => {
            return TraitError::invalid_phone(pointer, &as_text(instance));
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let actual = type_name(instance).to_owned();
            let message = format!("expected {expected}, but got {actual}");
            (TraitErrorKind::Type { expected, actual }, message)
        }
        _ => (TraitErrorKind::Other, err.to_string()),
    };
    TraitError {
        pointer,
        message,
        kind,
    }
}

/// Reads the values the index marks out of `doc` (`{"traits": ...}`) and normalises them.
///
/// A value that cannot be normalised for its channel becomes an error, unless the schema's own
/// format check already reported one of that kind at the same pointer.
pub(crate) fn derive(entries: &[TraitEntry], doc: &Value, errors: &mut Vec<TraitError>) -> Derived {
    // Traits can hold long arrays of addresses, so every duplicate check is a hash lookup.
    let mut reported: HashSet<(String, Discriminant<TraitErrorKind>)> = errors
        .iter()
        .map(|e| (e.pointer.clone(), discriminant(&e.kind)))
        .collect();
    let mut verifiable = Unique::default();
    let mut recovery = Unique::default();
    let mut code = Unique::default();
    let mut password = Unique::default();
    for entry in entries {
        let ext = &entry.extension;
        for (pointer, value) in entry.values(doc) {
            // Non-strings are the schema's business (its `type` keyword); empty strings are how
            // forms submit an optional field left blank.
            let Some(raw) = value.as_str().filter(|s| !s.is_empty()) else {
                continue;
            };
            let mut report = |failed: Via| {
                let err = match failed {
                    Via::Email => TraitError::invalid_email(pointer.clone(), raw),
                    Via::Sms => TraitError::invalid_phone(pointer.clone(), raw),
                };
                if reported.insert((err.pointer.clone(), discriminant(&err.kind))) {
                    errors.push(err);
                }
            };

            let channels = [
                (ext.verification_via(), &mut verifiable),
                (ext.recovery_via(), &mut recovery),
                (ext.code_via(), &mut code),
            ];
            for (via, list) in channels {
                let Some(via) = via else { continue };
                match via.normalize(raw) {
                    Ok(value) => list.push((via, value)),
                    Err(_) => report(via),
                }
            }

            if ext.password_identifier() {
                let identifier = match entry.format.as_deref() {
                    Some("email" | "idn-email") => normalize_email(raw).map_err(|_| Via::Email),
                    Some("tel") => normalize_phone(raw).map_err(|_| Via::Sms),
                    _ => Ok(raw.trim().to_lowercase()),
                };
                match identifier {
                    Ok(id) if !id.is_empty() => password.push(id),
                    Ok(_) => {}
                    Err(via) => report(via),
                }
            }
        }
    }
    Derived {
        verifiable: verifiable.items,
        recovery: recovery.items,
        password_identifiers: password.items,
        code_identifiers: code.items,
    }
}

/// A list in first-seen order without duplicates.
struct Unique<T> {
    items: Vec<T>,
    seen: HashSet<T>,
}

impl<T> Default for Unique<T> {
    fn default() -> Self {
        Unique {
            items: Vec::new(),
            seen: HashSet::new(),
        }
    }
}

impl<T: Eq + Hash + Clone> Unique<T> {
    fn push(&mut self, item: T) {
        if self.seen.insert(item.clone()) {
            self.items.push(item);
        }
    }
}
