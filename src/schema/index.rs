//! The index of trait properties that carry the `ory.sh/kratos` extension.
//!
//! jsonschema's custom keywords cannot hand data back to the caller, so instead of deriving
//! addresses during validation the schema is walked once at compile time; `evaluate` then reads
//! the marked values out of the instance by path.

use std::collections::HashMap;

use serde_json::Value;

use super::SchemaError;
use super::extension::{Extension, KEYWORD};

/// Deeper nesting than this is not indexed; it also bounds recursion on self-referencing schemas.
const MAX_DEPTH: usize = 32;
/// Subschema visits allowed per schema, so that `allOf`/`$ref` diamonds cannot blow up startup.
const VISIT_BUDGET: usize = 10_000;

/// One step from the identity document's root to a trait value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Segment {
    Key(String),
    /// Every element of an array (`items`).
    Item,
}

/// A trait property that carries the extension.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraitEntry {
    /// Starts with `Key("traits")`.
    pub path: Vec<Segment>,
    pub format: Option<String>,
    pub extension: Extension,
}

impl TraitEntry {
    /// `#/traits/emails/*` style: `*` stands for any array index.
    pub fn pointer(&self) -> String {
        let mut out = String::from("#");
        for seg in &self.path {
            out.push('/');
            match seg {
                Segment::Key(k) => out.push_str(&escape(k)),
                Segment::Item => out.push('*'),
            }
        }
        out
    }

    /// The values this entry marks in `doc` (`{"traits": ...}`), with their JSON pointers.
    pub fn values<'v>(&self, doc: &'v Value) -> Vec<(String, &'v Value)> {
        let mut found = vec![(String::from("#"), doc)];
        for seg in &self.path {
            let mut next = Vec::with_capacity(found.len());
            for (ptr, value) in found {
                match (seg, value) {
                    (Segment::Key(k), Value::Object(map)) => {
                        if let Some(v) = map.get(k) {
                            next.push((format!("{ptr}/{}", escape(k)), v));
                        }
                    }
                    (Segment::Item, Value::Array(items)) => {
                        next.extend(
                            items
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (format!("{ptr}/{i}"), v)),
                        );
                    }
                    _ => {}
                }
            }
            found = next;
        }
        found
    }
}

pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Rejects `$ref`s the offline compiler cannot resolve, with a message that names them.
pub(crate) fn check_refs(id: &str, value: &Value) -> Result<(), SchemaError> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && !reference.starts_with('#')
            {
                return Err(SchemaError::RemoteRef {
                    id: id.to_owned(),
                    reference: reference.clone(),
                });
            }
            // These hold instance data, not subschemas: a `$ref` key there means nothing.
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "enum" | "const" | "default" | "examples"))
                .try_for_each(|(_, v)| check_refs(id, v))
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_refs(id, v)),
        _ => Ok(()),
    }
}

/// Walks `root` once and returns every trait property that carries the extension, in the order
/// the schema's maps list them (alphabetical unless serde_json's `preserve_order` is on).
pub(crate) fn build_index(id: &str, root: &Value) -> Result<Vec<TraitEntry>, SchemaError> {
    let mut walker = Walker {
        root,
        id,
        groups: Vec::new(),
        group_of: HashMap::new(),
        ref_stack: Vec::new(),
        budget: VISIT_BUDGET,
    };
    walker.visit(root, &mut Vec::new())?;

    let mut entries = Vec::new();
    for (path, schemas) in walker.groups {
        let entry = TraitEntry {
            path,
            format: None,
            extension: Extension::default(),
        };
        let pointer = entry.pointer();
        let mut extension: Option<(&Value, Extension)> = None;
        for raw in schemas.iter().filter_map(|s| s.get(KEYWORD)) {
            let parsed = Extension::parse(raw).map_err(|message| SchemaError::Extension {
                id: id.to_owned(),
                pointer: pointer.clone(),
                message,
            })?;
            match &extension {
                Some((first, _)) if *first != raw => {
                    return Err(SchemaError::Extension {
                        id: id.to_owned(),
                        pointer,
                        message: "conflicting ory.sh/kratos values reach this property through $ref/allOf".into(),
                    });
                }
                Some(_) => {}
                None => extension = Some((raw, parsed)),
            }
        }
        let under_traits = entry.path.len() >= 2
            && matches!(entry.path.first(), Some(Segment::Key(k)) if k == "traits");
        if let (Some((_, extension)), true) = (extension, under_traits) {
            let format = schemas
                .iter()
                .find_map(|s| s.get("format").and_then(Value::as_str))
                .map(str::to_owned);
            entries.push(TraitEntry {
                format,
                extension,
                ..entry
            });
        }
    }
    Ok(entries)
}

struct Walker<'a> {
    root: &'a Value,
    id: &'a str,
    /// Every subschema that applies at a path, in first-visit order.
    groups: Vec<(Vec<Segment>, Vec<&'a Value>)>,
    group_of: HashMap<Vec<Segment>, usize>,
    ref_stack: Vec<&'a str>,
    budget: usize,
}

impl<'a> Walker<'a> {
    fn visit(&mut self, schema: &'a Value, path: &mut Vec<Segment>) -> Result<(), SchemaError> {
        let Some(obj) = schema.as_object() else {
            return Ok(());
        };
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| SchemaError::Invalid {
                id: self.id.to_owned(),
                message: format!("too many subschemas to index (more than {VISIT_BUDGET})"),
            })?;
        if path.len() > MAX_DEPTH {
            return Ok(());
        }
        match self.group_of.get(path.as_slice()) {
            Some(&i) => self.groups[i].1.push(schema),
            None => {
                self.group_of.insert(path.clone(), self.groups.len());
                self.groups.push((path.clone(), vec![schema]));
            }
        }

        if let Some(Value::String(reference)) = obj.get("$ref")
            && !self.ref_stack.contains(&reference.as_str())
            && let Some(target) = self.resolve(reference)?
        {
            self.ref_stack.push(reference);
            self.visit(target, path)?;
            self.ref_stack.pop();
        }
        // Conditional keywords (anyOf, oneOf, if/then) are not followed: whether they apply
        // depends on the instance, and an address must not appear or vanish with it.
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for sub in all {
                self.visit(sub, path)?;
            }
        }
        if let Some(Value::Object(props)) = obj.get("properties") {
            for (key, sub) in props {
                path.push(Segment::Key(key.clone()));
                self.visit(sub, path)?;
                path.pop();
            }
        }
        if let Some(items @ Value::Object(_)) = obj.get("items") {
            path.push(Segment::Item);
            self.visit(items, path)?;
            path.pop();
        }
        Ok(())
    }

    /// Resolves `#/json/pointer` against the root. `#anchor` refs are validated by jsonschema
    /// but not followed here, so properties behind them are not indexed.
    fn resolve(&self, reference: &str) -> Result<Option<&'a Value>, SchemaError> {
        let dangling = || SchemaError::Reference {
            id: self.id.to_owned(),
            reference: reference.to_owned(),
        };
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(dangling());
        };
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return Ok(None);
        }
        let pointer = percent_decode(fragment).ok_or_else(dangling)?;
        self.root.pointer(&pointer).map(Some).ok_or_else(dangling)
    }
}

/// URI fragments may percent-encode pointer characters (`%25` for `%`, `%20` for a space).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
