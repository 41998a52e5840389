//! The rules of a loaded config that serde cannot express: lengths, ranges, URL syntax and
//! references between keys. Each problem is one line naming its key.

use super::{Settings, VerificationStrategy};

/// Rules serde cannot express: lengths, ranges, URL syntax, references between keys.
pub(super) fn check(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    let mut bad = |key: &str, what: String| out.push(format!("  - `{key}`: {what}"));
    for (key, list) in [
        ("secrets.default", &s.secrets.default),
        ("secrets.cookie", &s.secrets.cookie),
        ("secrets.pagination", &s.secrets.pagination),
    ] {
        for (i, secret) in list.iter().enumerate() {
            if secret.expose().chars().count() < 16 {
                bad(
                    &format!("{key}.{i}"),
                    "must be at least 16 characters long".into(),
                );
            }
        }
    }
    for (i, secret) in s.secrets.cipher.iter().enumerate() {
        if secret.expose().chars().count() != 32 {
            bad(
                &format!("secrets.cipher.{i}"),
                "must be exactly 32 characters long".into(),
            );
        }
    }
    let absolute = |v: &str| url::Url::parse(v).map(|u| u.has_host()).unwrap_or(false);
    for (key, value) in [
        ("serve.public.base_url", s.serve.public.base_url.as_deref()),
        ("serve.admin.base_url", s.serve.admin.base_url.as_deref()),
        (
            "selfservice.default_browser_return_url",
            Some(s.selfservice.default_browser_return_url.as_str()),
        ),
    ] {
        if let Some(v) = value
            && !absolute(v)
        {
            bad(
                key,
                format!("expected an absolute URL such as http://127.0.0.1:4433/, got {v:?}"),
            );
        }
    }
    if s.identity.schemas.is_empty() {
        bad(
            "identity.schemas",
            "at least one identity schema is required".into(),
        );
    }
    if !s
        .identity
        .schemas
        .iter()
        .any(|x| x.id == s.identity.default_schema_id)
    {
        bad(
            "identity.default_schema_id",
            format!(
                "no schema with id {:?} in identity.schemas",
                s.identity.default_schema_id
            ),
        );
    }
    if let Some(u) = s.selfservice.flows.recovery.strategy.as_deref()
        && !matches!(u, "code" | "link")
    {
        bad(
            "selfservice.flows.recovery.use",
            format!("must be code or link, got {u:?}"),
        );
    }
    let code = &s.selfservice.methods.code.config;
    if !(4..=10).contains(&code.length) {
        bad(
            "selfservice.methods.code.config.length",
            format!("must be between 4 and 10, got {}", code.length),
        );
    }
    if !(1..=255).contains(&code.max_submissions) {
        bad(
            "selfservice.methods.code.config.max_submissions",
            format!("must be between 1 and 255, got {}", code.max_submissions),
        );
    }
    if code.max_resends == 0 {
        bad(
            "selfservice.methods.code.config.max_resends",
            "must be at least 1".into(),
        );
    }
    let verification = &s.selfservice.flows.verification;
    if verification.enabled {
        let (name, enabled) = match verification.strategy {
            VerificationStrategy::Code => ("code", s.selfservice.methods.code.is_enabled()),
            VerificationStrategy::Link => ("link", s.selfservice.methods.link.enabled),
        };
        if !enabled {
            bad(
                "selfservice.flows.verification.use",
                format!(
                    "the active verification strategy {name} is not enabled; enable selfservice.methods.{name}"
                ),
            );
        }
    }
    for (i, channel) in s.courier.channels.iter().enumerate() {
        if channel.id != "sms" && channel.id != "voice" {
            bad(
                &format!("courier.channels.{i}.id"),
                format!("must be \"sms\" or \"voice\", got {:?}", channel.id),
            );
        }
        if channel.request_config.is_none() && channel.preset.is_none() {
            bad(
                &format!("courier.channels.{i}"),
                "needs request_config or preset".into(),
            );
        }
    }
    if let Some(uri) = &s.courier.smtp.connection_uri
        && !uri.expose().starts_with("smtp://")
        && !uri.expose().starts_with("smtps://")
    {
        bad(
            "courier.smtp.connection_uri",
            "must start with smtp:// or smtps://".into(),
        );
    }
    if !(4..=31).contains(&s.hashers.bcrypt.cost) {
        bad(
            "hashers.bcrypt.cost",
            format!("must be between 4 and 31, got {}", s.hashers.bcrypt.cost),
        );
    }
    for (name, endpoint) in [("public", &s.serve.public), ("admin", &s.serve.admin)] {
        for (i, origin) in endpoint.cors.allowed_origins.iter().enumerate() {
            if let Err(why) = crate::http::cors::check_origin(origin) {
                bad(&format!("serve.{name}.cors.allowed_origins.{i}"), why);
            }
        }
    }
    if s.hashers.argon2.iterations == 0 || s.hashers.argon2.parallelism == 0 {
        bad(
            "hashers.argon2",
            "iterations and parallelism must be at least 1".into(),
        );
    }
    out
}
