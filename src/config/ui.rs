//! `ui:`: Verity's built-in browser pages under `/ui/` (Kratos ships none, so these keys are
//! Verity's own).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// A directory whose `*.hbs` files replace the built-in page and partial templates of the
    /// same name, whose `verity.css` replaces the stylesheet, and whose `text/<lang>.json`
    /// files add or extend text catalogues. Read at start: a directory that cannot be read or
    /// a template that does not compile stops the start.
    pub templates_dir: Option<String>,
    /// The language used when the browser's `Accept-Language` names none that is available;
    /// it must have a catalogue.
    pub locale: String,
    /// Where a browser goes after a flow succeeds, instead of the built-in success page.
    pub success_redirects: SuccessRedirects,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            templates_dir: None,
            locale: "en".into(),
            success_redirects: SuccessRedirects::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SuccessRedirects {
    pub verification: Option<String>,
}
