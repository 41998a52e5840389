//! Flow hooks configured in `selfservice.flows.<flow>.after.hooks`.

mod web_hook;

pub use web_hook::{HookError, WebHook};

use crate::config::HookConfig;

/// The web hooks of a hook list; other hook names are for the flows that know them.
pub fn web_hooks(
    list: &[HookConfig],
    base_dir: Option<&std::path::Path>,
) -> Result<Vec<WebHook>, HookError> {
    list.iter()
        .filter(|h| h.hook == "web_hook")
        .map(|h| {
            WebHook::from_config(
                h.config.as_ref().unwrap_or(&serde_json::Value::Null),
                base_dir,
            )
        })
        .collect()
}
