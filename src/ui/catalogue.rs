//! Text catalogues: Kratos message id (or a page string key) → text in one language, with
//! `{name}` placeholders filled from the message's `context`. Built-in languages are embedded;
//! `<templates_dir>/text/<lang>.json` adds a language or overrides entries of one.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::UiError;

/// The languages compiled in: add a line here next to the JSON file to ship another.
const BUILTIN: &[(&str, &str)] = &[("en", include_str!("../../templates/ui/text/en.json"))];

/// The language everything falls back to.
pub const FALLBACK: &str = "en";

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    langs: BTreeMap<String, BTreeMap<String, String>>,
}

fn parse(name: &str, source: &str) -> Result<BTreeMap<String, String>, UiError> {
    serde_json::from_str(source).map_err(|e| {
        UiError(format!(
            "text catalogue {name}: expected {{\"id\": \"text\"}}: {e}"
        ))
    })
}

impl Catalogue {
    pub fn load(dir: Option<&Path>) -> Result<Self, UiError> {
        let mut c = Self::default();
        for (lang, source) in BUILTIN {
            c.langs.insert((*lang).into(), parse(lang, source)?);
        }
        let Some(dir) = dir.map(|d| d.join("text")).filter(|d| d.is_dir()) else {
            return Ok(c);
        };
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| UiError(format!("reading {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(lang) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let source = std::fs::read_to_string(&path)
                .map_err(|e| UiError(format!("reading {}: {e}", path.display())))?;
            let entries = parse(&path.display().to_string(), &source)?;
            c.langs
                .entry(lang.to_ascii_lowercase())
                .or_default()
                .extend(entries);
        }
        Ok(c)
    }

    /// The available languages, sorted.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.langs.keys().map(String::as_str)
    }

    pub fn has(&self, lang: &str) -> bool {
        self.langs.contains_key(lang)
    }

    /// The first language of `Accept-Language` (by quality) that is available, else `default`.
    pub fn negotiate(&self, accept_language: Option<&str>, default: &str) -> String {
        let mut wanted: Vec<(String, f32)> = accept_language
            .unwrap_or("")
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim().to_ascii_lowercase();
                let q = pieces
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|v| v.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && q > 0.0).then_some((tag, q))
            })
            .collect();
        // Stable: equal qualities keep the browser's order.
        wanted.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (tag, _) in wanted {
            let primary = tag.split('-').next().unwrap_or("");
            for candidate in [tag.as_str(), primary] {
                if self.has(candidate) {
                    return candidate.to_owned();
                }
            }
        }
        if self.has(default) {
            default.to_owned()
        } else {
            FALLBACK.to_owned()
        }
    }

    /// The raw entry for `key` in `lang`, else in the fallback language.
    pub fn entry(&self, lang: &str, key: &str) -> Option<&str> {
        [lang, FALLBACK]
            .iter()
            .find_map(|l| self.langs.get(*l)?.get(key))
            .map(String::as_str)
    }

    /// A Kratos `Text` (`{id, text, type, context?}`) in `lang`: the catalogue's entry with
    /// its placeholders filled, or the message's own text when the id is unknown or the
    /// context lacks a placeholder.
    pub fn message(&self, lang: &str, text: &Value) -> String {
        let own = text.get("text").and_then(Value::as_str).unwrap_or("");
        let id = match text.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return own.to_owned(),
        };
        let empty = Map::new();
        let context = text
            .get("context")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.entry(lang, &id)
            .and_then(|template| fill(template, context))
            .unwrap_or_else(|| own.to_owned())
    }

    /// The page strings (keys that are not message ids) of `lang`, over the fallback's.
    pub fn page_strings(&self, lang: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for l in [FALLBACK, lang] {
            for (k, v) in self.langs.get(l).into_iter().flatten() {
                if !k.bytes().all(|b| b.is_ascii_digit()) {
                    out.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        out
    }
}

/// Replaces each `{name}` with `context[name]`; `None` when a name has no value.
pub fn fill(template: &str, context: &Map<String, Value>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}')?;
        let name = &after[..end];
        let value = match context.get(name)? {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}
