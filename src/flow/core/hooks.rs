//! After-hooks of every flow, parsed once at start, in Kratos's order: the automatic
//! verification first, then the configured hooks, with `session` always last.

use anyhow::Context;
use serde_json::{Value, json};

use crate::config::{AfterConfig, HookConfig};
use crate::hooks::WebHook;

#[derive(Debug, Clone)]
pub enum AfterHook {
    Session,
    ShowVerificationUi,
    RequireVerifiedAddress,
    RevokeActiveSessions,
    WebHook(WebHook),
}

/// The hooks of one flow, per method (a method's own list replaces the flow's list).
#[derive(Debug, Clone, Default)]
pub struct AfterHooks {
    pub password: Vec<AfterHook>,
    pub oidc: Vec<AfterHook>,
    pub profile: Vec<AfterHook>,
}

impl AfterHooks {
    pub fn from_config(
        cfg: &AfterConfig,
        base_dir: Option<&std::path::Path>,
        flow: &str,
    ) -> anyhow::Result<Self> {
        let list = |method: &str, m: &Option<crate::config::MethodAfter>| {
            let hooks = m.as_ref().map_or(&cfg.hooks, |m| &m.hooks);
            parse(hooks, base_dir)
                .with_context(|| format!("selfservice.flows.{flow}.after.{method}.hooks"))
        };
        Ok(Self {
            password: list("password", &cfg.password)?,
            oidc: list("oidc", &cfg.oidc)?,
            profile: list("profile", &cfg.profile)?,
        })
    }

    pub fn for_method(&self, method: &str) -> &[AfterHook] {
        match method {
            "oidc" => &self.oidc,
            "profile" => &self.profile,
            _ => &self.password,
        }
    }
}

/// The hooks of every flow kind.
#[derive(Debug, Clone, Default)]
pub struct FlowHooks {
    pub registration: AfterHooks,
    pub login: AfterHooks,
    pub settings: AfterHooks,
    pub recovery: AfterHooks,
    /// `selfservice.flows.verification.after.hooks` (web hooks), run after success.
    pub verification: Vec<WebHook>,
}

impl FlowHooks {
    pub fn from_config(
        flows: &crate::config::FlowsConfig,
        base_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            registration: AfterHooks::from_config(
                &flows.registration.after,
                base_dir,
                "registration",
            )?,
            login: AfterHooks::from_config(&flows.login.after, base_dir, "login")?,
            settings: AfterHooks::from_config(&flows.settings.after, base_dir, "settings")?,
            recovery: AfterHooks::from_config(&flows.recovery.after, base_dir, "recovery")?,
            verification: crate::hooks::web_hooks(&flows.verification.after.hooks, base_dir)
                .context("selfservice.flows.verification.after.hooks")?,
        })
    }
}

pub fn has(hooks: &[AfterHook], wanted: fn(&AfterHook) -> bool) -> bool {
    hooks.iter().any(wanted)
}

fn parse(
    list: &[HookConfig],
    base_dir: Option<&std::path::Path>,
) -> anyhow::Result<Vec<AfterHook>> {
    let mut out = Vec::new();
    for h in list {
        out.push(match h.hook.as_str() {
            "session" => AfterHook::Session,
            "show_verification_ui" => AfterHook::ShowVerificationUi,
            "require_verified_address" => AfterHook::RequireVerifiedAddress,
            "revoke_active_sessions" => AfterHook::RevokeActiveSessions,
            // The automatic verification hook always runs when verification is enabled.
            "verification" => continue,
            "web_hook" => AfterHook::WebHook(WebHook::from_config(
                h.config.as_ref().unwrap_or(&Value::Null),
                base_dir,
            )?),
            other => anyhow::bail!("unknown hook {other:?}"),
        });
    }
    Ok(out)
}

/// The `show_verification_ui` item of `continue_with`.
pub fn show_verification_ui(flow_id: uuid::Uuid, address: &str, url: Option<&str>) -> Value {
    let mut flow = json!({"id": flow_id, "verifiable_address": address});
    if let Some(u) = url {
        flow["url"] = json!(u);
    }
    json!({"action": "show_verification_ui", "flow": flow})
}

/// The `set_ory_session_token` item of `continue_with` (api flows).
pub fn set_session_token(token: &str) -> Value {
    json!({"action": "set_ory_session_token", "ory_session_token": token})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(name: &str) -> HookConfig {
        HookConfig {
            hook: name.into(),
            config: None,
        }
    }

    #[test]
    fn method_lists_replace_the_flow_list() {
        let cfg = AfterConfig {
            hooks: vec![hook("session")],
            oidc: Some(crate::config::MethodAfter {
                default_browser_return_url: None,
                hooks: vec![hook("show_verification_ui")],
            }),
            ..AfterConfig::default()
        };
        let h = AfterHooks::from_config(&cfg, None, "registration").unwrap();
        assert!(matches!(h.password[..], [AfterHook::Session]));
        assert!(matches!(h.oidc[..], [AfterHook::ShowVerificationUi]));
        let bad = AfterConfig {
            hooks: vec![hook("nope")],
            ..AfterConfig::default()
        };
        let err = AfterHooks::from_config(&bad, None, "login").unwrap_err();
        assert!(format!("{err:#}").contains("selfservice.flows.login.after.password.hooks"));
    }
}
