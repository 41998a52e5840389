//! Handlebars templates in strict mode: embedded defaults, then files under
//! `courier.template_override_path`, then `courier.templates` entries (highest priority).
//! Every template is rendered with a complete sample model at load, so a name that does not
//! exist fails at start, not as a blank in a sent message. HTML bodies escape; text does not.

use std::path::{Path, PathBuf};

use base64::Engine;
use handlebars::{Handlebars, handlebars_helper};
use serde_json::Value;

use super::CourierError;
use super::kind::{TemplateKind, with_aliases};
use crate::config::CourierConfig;

/// One file of a template set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    EmailSubject,
    EmailHtml,
    EmailText,
    SmsBody,
    VoiceBody,
}

impl Part {
    pub const ALL: [Part; 5] = [
        Self::EmailSubject,
        Self::EmailHtml,
        Self::EmailText,
        Self::SmsBody,
        Self::VoiceBody,
    ];

    /// The file name without the `.hbs` extension.
    pub fn file(self) -> &'static str {
        match self {
            Self::EmailSubject => "email.subject",
            Self::EmailHtml => "email.body",
            Self::EmailText => "email.body.plaintext",
            Self::SmsBody => "sms.body",
            Self::VoiceBody => "voice.body",
        }
    }
}

pub const EXTENSION: &str = "hbs";

macro_rules! builtin {
    ($($dir:literal: [$($file:literal),*]),* $(,)?) => {
        &[$($(
            (concat!($dir, "/", $file),
             include_str!(concat!("../../templates/courier/", $dir, "/", $file, ".hbs"))),
        )*)*]
    };
}

/// The templates compiled into the binary, keyed `<kind dir>/<part file>`.
const BUILTIN: &[(&str, &str)] = builtin! {
    "verification_code/valid": ["email.subject", "email.body", "email.body.plaintext", "sms.body", "voice.body"],
    "verification_code/invalid": ["email.subject", "email.body", "email.body.plaintext"],
    "verification/valid": ["email.subject", "email.body", "email.body.plaintext"],
    "verification/invalid": ["email.subject", "email.body", "email.body.plaintext"],
    "recovery_code/valid": ["email.subject", "email.body", "email.body.plaintext", "sms.body", "voice.body"],
    "recovery_code/invalid": ["email.subject", "email.body", "email.body.plaintext"],
    "recovery/valid": ["email.subject", "email.body", "email.body.plaintext"],
    "recovery/invalid": ["email.subject", "email.body", "email.body.plaintext"],
    "login_code/valid": ["email.subject", "email.body", "email.body.plaintext", "sms.body", "voice.body"],
    "registration_code/valid": ["email.subject", "email.body", "email.body.plaintext", "sms.body", "voice.body"],
    "verifiable_address_changed/valid": ["email.subject", "email.body", "email.body.plaintext"],
    "phone_verification_code/valid": ["sms.body", "voice.body"],
    "registration_duplicate/valid": ["email.subject", "email.body", "email.body.plaintext"],
    "password_changed/valid": ["email.subject", "email.body", "email.body.plaintext"],
};

handlebars_helper!(upper: |s: str| s.to_uppercase());
handlebars_helper!(lower: |s: str| s.to_lowercase());
handlebars_helper!(trim: |s: str| s.trim().to_owned());
handlebars_helper!(default: |v: Json, fallback: Json| {
    if v.is_null() || v == &Value::String(String::new()) { fallback.clone() } else { v.clone() }
});
// Spells a code out character by character, so a voice reads "1 2 3 4", not "one thousand…".
handlebars_helper!(spell: |s: Json| {
    let text = match s { Value::String(t) => t.clone(), other => other.to_string() };
    text.chars().map(String::from).collect::<Vec<_>>().join(" ")
});

/// The loaded template sets: one registry escapes HTML, the other renders text verbatim.
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Templates({} html, {} text)",
            self.html.get_templates().len(),
            self.text.get_templates().len()
        )
    }
}

fn registry(escape: bool) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    if !escape {
        hb.register_escape_fn(handlebars::no_escape);
    }
    hb.register_helper("upper", Box::new(upper));
    hb.register_helper("lower", Box::new(lower));
    hb.register_helper("trim", Box::new(trim));
    hb.register_helper("default", Box::new(default));
    hb.register_helper("spell", Box::new(spell));
    hb
}

fn name(kind: TemplateKind, part: Part) -> String {
    format!("{}/{}", kind.dir(), part.file())
}

impl Templates {
    /// Loads the built-ins and the configured overrides, then renders each with a sample.
    pub fn load(cfg: &CourierConfig, base_dir: Option<&Path>) -> Result<Self, CourierError> {
        let mut t = Self {
            html: registry(true),
            text: registry(false),
        };
        for (name, source) in BUILTIN {
            t.register(name, source)?;
        }
        if let Some(dir) = &cfg.template_override_path {
            t.load_dir(&resolve(dir, base_dir))?;
        }
        for (kind_name, set) in &cfg.templates {
            for (variant, v) in [("valid", &set.valid), ("invalid", &set.invalid)] {
                let Some(v) = v else { continue };
                let kind = TemplateKind::from_dir(kind_name, variant).ok_or_else(|| {
                    CourierError::Config(format!(
                        "courier.templates.{kind_name}.{variant}: no such template"
                    ))
                })?;
                let email = v.email.as_ref();
                let email_body = email.and_then(|e| e.body.as_ref());
                let parts = [
                    (Part::EmailSubject, email.and_then(|e| e.subject.as_ref())),
                    (Part::EmailHtml, email_body.and_then(|b| b.html.as_ref())),
                    (
                        Part::EmailText,
                        email_body.and_then(|b| b.plaintext.as_ref()),
                    ),
                    (
                        Part::SmsBody,
                        v.sms
                            .as_ref()
                            .and_then(|s| s.body.as_ref())
                            .and_then(|b| b.plaintext.as_ref()),
                    ),
                    (
                        Part::VoiceBody,
                        v.voice
                            .as_ref()
                            .and_then(|s| s.body.as_ref())
                            .and_then(|b| b.plaintext.as_ref()),
                    ),
                ];
                for (part, uri) in parts {
                    let Some(uri) = uri else { continue };
                    let source = read_source(uri, base_dir).map_err(|e| {
                        CourierError::Config(format!(
                            "courier.templates.{kind_name}.{variant} ({}): {e}",
                            part.file()
                        ))
                    })?;
                    t.register(&name(kind, part), &source)?;
                }
            }
        }
        t.check()?;
        Ok(t)
    }

    fn register(&mut self, name: &str, source: &str) -> Result<(), CourierError> {
        let hb = if name.ends_with("/email.body") {
            &mut self.html
        } else {
            &mut self.text
        };
        hb.register_template_string(name, source)
            .map_err(|e| CourierError::Template(format!("template {name}: {e}")))
    }

    fn load_dir(&mut self, dir: &Path) -> Result<(), CourierError> {
        if !dir.is_dir() {
            return Err(CourierError::Config(format!(
                "courier.template_override_path {} is not a directory",
                dir.display()
            )));
        }
        for kind in TemplateKind::ALL {
            let kind_dir = dir.join(kind.dir());
            for part in Part::ALL {
                let path = kind_dir.join(format!("{}.{EXTENSION}", part.file()));
                if path.is_file() {
                    let source = std::fs::read_to_string(&path).map_err(|e| {
                        CourierError::Config(format!("cannot read {}: {e}", path.display()))
                    })?;
                    self.register(&name(kind, part), &source)?;
                } else if kind_dir.join(format!("{}.gotmpl", part.file())).is_file() {
                    return Err(CourierError::Config(format!(
                        "{}/{}.gotmpl is a Go template; Verity reads Handlebars: write {}.{EXTENSION}",
                        kind_dir.display(),
                        part.file(),
                        part.file()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Renders every registered template with its kind's sample model.
    fn check(&self) -> Result<(), CourierError> {
        for kind in TemplateKind::ALL {
            let Value::Object(sample) = kind.sample_model() else {
                continue;
            };
            let model = with_aliases(&sample);
            for part in Part::ALL {
                if self.has(kind, part) {
                    let out = self.render(kind, part, &model)?;
                    if part != Part::EmailHtml && out.trim().is_empty() {
                        return Err(CourierError::Template(format!(
                            "template {} renders to nothing",
                            name(kind, part)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn has(&self, kind: TemplateKind, part: Part) -> bool {
        let n = name(kind, part);
        self.html.has_template(&n) || self.text.has_template(&n)
    }

    /// Renders one part; a missing variable is an error (strict mode).
    pub fn render(
        &self,
        kind: TemplateKind,
        part: Part,
        model: &Value,
    ) -> Result<String, CourierError> {
        let n = name(kind, part);
        let hb = if part == Part::EmailHtml {
            &self.html
        } else {
            &self.text
        };
        hb.render(&n, model)
            .map_err(|e| CourierError::Template(format!("template {n}: {e}")))
    }
}

fn resolve(path: &str, base_dir: Option<&Path>) -> PathBuf {
    let p = PathBuf::from(path);
    match base_dir {
        Some(base) if p.is_relative() && !p.exists() => base.join(p),
        _ => p,
    }
}

/// `file://path`, `base64://…` or the template text itself. Remote URLs are refused: the
/// courier never fetches templates over the network.
pub fn read_source(uri: &str, base_dir: Option<&Path>) -> Result<String, String> {
    if let Some(path) = uri.strip_prefix("file://") {
        let path = resolve(path, base_dir);
        return std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    if let Some(data) = uri.strip_prefix("base64://") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data.trim()))
            .map_err(|e| format!("invalid base64: {e}"))?;
        return String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned());
    }
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Err("remote templates are not supported; use file:// or base64://".into());
    }
    Ok(uri.to_owned())
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
