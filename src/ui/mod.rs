//! Server-rendered pages for the self-service flows: Handlebars templates (strict mode, HTML
//! escaping) embedded in the binary, optionally replaced file by file from
//! `ui.templates_dir`, and a text catalogue per language. A page for a flow kind is a
//! template that includes the `form` partial with [`Renderer::form`]'s model of the flow's `ui`.

pub mod catalogue;
mod mask;
mod view;

use std::collections::BTreeMap;
use std::path::Path;

use handlebars::Handlebars;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use catalogue::Catalogue;
pub use mask::mask_address;
pub use view::{form_view, node_view};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UiError(pub String);

/// Pages and partials, by the file name (without `.hbs`) that overrides them.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/ui/layout.hbs")),
    ("form", include_str!("../../templates/ui/form.hbs")),
    ("node", include_str!("../../templates/ui/node.hbs")),
    (
        "flow_messages",
        include_str!("../../templates/ui/flow_messages.hbs"),
    ),
    (
        "field_messages",
        include_str!("../../templates/ui/field_messages.hbs"),
    ),
    ("home", include_str!("../../templates/ui/home.hbs")),
    (
        "verification",
        include_str!("../../templates/ui/verification.hbs"),
    ),
    ("error", include_str!("../../templates/ui/error.hbs")),
    ("login", include_str!("../../templates/ui/login.hbs")),
    (
        "registration",
        include_str!("../../templates/ui/registration.hbs"),
    ),
    ("settings", include_str!("../../templates/ui/settings.hbs")),
    ("recovery", include_str!("../../templates/ui/recovery.hbs")),
];

const CSS: &str = include_str!("../../templates/ui/verity.css");

pub struct Renderer {
    hb: Handlebars<'static>,
    pub catalogue: Catalogue,
    css: String,
    css_etag: String,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Renderer({} templates)", self.hb.get_templates().len())
    }
}

fn read(path: &Path) -> Result<String, UiError> {
    std::fs::read_to_string(path).map_err(|e| UiError(format!("reading {}: {e}", path.display())))
}

impl Renderer {
    /// The embedded templates, each replaced by `<dir>/<name>.hbs` when that file exists;
    /// other `*.hbs` files in `dir` are added as partials. `locale`, the default language,
    /// must have a catalogue.
    pub fn load(dir: Option<&Path>, locale: &str) -> Result<Self, UiError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(escape);
        let mut sources: BTreeMap<String, String> = TEMPLATES
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect();
        let mut css = CSS.to_owned();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| UiError(format!("ui.templates_dir {}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if let Some(name) = file.strip_suffix(".hbs") {
                    sources.insert(name.to_owned(), read(&path)?);
                } else if file == "verity.css" {
                    css = read(&path)?;
                }
            }
        }
        for (name, source) in &sources {
            hb.register_template_string(name, source)
                .map_err(|e| UiError(format!("template {name}: {e}")))?;
        }
        let catalogue = Catalogue::load(dir)?;
        if !catalogue.has(locale) {
            return Err(UiError(format!(
                "ui.locale {locale:?} has no text catalogue (available: {})",
                catalogue.languages().collect::<Vec<_>>().join(", ")
            )));
        }
        let css_etag = format!("\"{}\"", hex_prefix(&Sha256::digest(css.as_bytes())));
        Ok(Self {
            hb,
            catalogue,
            css,
            css_etag,
        })
    }

    /// Renders a page; `ctx` is the complete model (see `http::ui` for the common keys).
    pub fn render(&self, page: &str, ctx: &Value) -> Result<String, UiError> {
        self.hb
            .render(page, ctx)
            .map_err(|e| UiError(format!("rendering {page}: {e}")))
    }

    /// The model of a flow's `ui` container in `lang`.
    pub fn form(&self, lang: &str, ui: &Value) -> Value {
        form_view(&self.catalogue, lang, ui)
    }

    /// The stylesheet and its ETag (a content hash, quoted).
    pub fn css(&self) -> (&str, &str) {
        (&self.css, &self.css_etag)
    }
}

/// HTML escaping for text and quoted attribute values (every template quotes its attributes),
/// leaving `=` and `/` readable in URLs and tokens.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
