//! The key paths of Kratos v26.2's configuration, so a Kratos config file loads: a key that
//! Verity does not know but Kratos does is reported as a warning (with what Verity offers
//! instead) and left out; a key neither knows stays an error.
//!
//! One path per line; `{a,b}` expands to alternatives, `[]` stands for any array element and a
//! trailing `.**` for everything below. Parents of listed paths are known too.

const KEYS: &str = "
version
dsn
dev
config
help
watch-courier
expose-metrics-port
sqa-opt-out
revision
tracing.**
organizations.**
oauth2_provider.**
enterprise.identity_schema_fallback_url_template
preview.default_read_consistency_level
ciphers.algorithm
clients.http.{disallow_private_ip_ranges,private_ip_exception_urls}
clients.web_hook.header_allowlist
cookies.{domain,path,same_site,secure}
database.cleanup.{batch_size,older_than,sleep.tables}
feature_flags.{cacheable_sessions,cacheable_sessions_max_age,choose_recovery_address,faster_session_extend}
feature_flags.{legacy_continue_with_verification_ui,legacy_oidc_registration_node_group}
feature_flags.{legacy_require_verified_login_error,password_profile_registration_node_group}
feature_flags.use_continue_with_transitions
hashers.algorithm
hashers.argon2.{dedicated_memory,expected_deviation,expected_duration,iterations,key_length}
hashers.argon2.{memory,parallelism,salt_length}
hashers.bcrypt.cost
identity.default_schema_id
identity.schemas[].{id,url,selfservice_selectable}
log.{format,level,leak_sensitive_values,redaction_text}
secrets.{cipher,cookie,default,pagination}
security.account_enumeration.mitigate
serve.{public,admin}.{base_url,host,port,request_log.disable_for_health,socket.**,tls.**}
serve.public.cors.{enabled,allowed_origins,allowed_methods,allowed_headers,exposed_headers}
serve.public.cors.{allow_credentials,options_passthrough,max_age,debug}
session.cookie.{domain,name,path,persistent,same_site,secure}
session.{earliest_possible_extend,lifespan}
session.whoami.{required_aal,tokenizer.**}
courier.channels[].{id,type,request_config.**}
courier.{delivery_strategy,message_retries,template_override_path}
courier.http.request_config.**
courier.smtp.{client_cert_path,client_key_path,connection_uri,from_address,from_name,local_name}
courier.smtp.headers.**
courier.templates.{login_code,recovery,recovery_code,registration_code,verification,verification_code}.**
courier.worker.{pull_count,pull_wait}
selfservice.{allowed_return_urls,default_browser_return_url}
selfservice.methods.{b2b,lookup_secret,passkey,totp,webauthn}.**
selfservice.methods.code.{enabled,mfa_enabled,passwordless_enabled}
selfservice.methods.code.config.{lifespan,max_submissions,missing_credential_fallback_enabled}
selfservice.methods.link.{enabled,config.base_url,config.lifespan}
selfservice.methods.oidc.{enabled,config.base_redirect_uri,config.providers[].**}
selfservice.methods.password.enabled
selfservice.methods.password.config.{haveibeenpwned_enabled,haveibeenpwned_host,max_breaches}
selfservice.methods.password.config.{identifier_similarity_check_enabled,ignore_network_errors}
selfservice.methods.password.config.{min_password_length,migrate_hook.**}
selfservice.methods.profile.enabled
selfservice.flows.error.ui_url
selfservice.flows.{login,registration,settings,recovery,verification}.{ui_url,lifespan,before.hooks[].**}
selfservice.flows.{login,registration,settings,recovery,verification}.after.{default_browser_return_url,hooks[].**}
selfservice.flows.{login,registration,settings}.after.{password,oidc,webauthn,passkey}.{default_browser_return_url,hooks[].**}
selfservice.flows.{login,registration}.after.code.{default_browser_return_url,hooks[].**}
selfservice.flows.{login,settings}.after.{totp,lookup_secret}.{default_browser_return_url,hooks[].**}
selfservice.flows.settings.after.profile.{default_browser_return_url,hooks[].**}
selfservice.flows.{recovery,verification}.after.hooks[].**
selfservice.flows.{recovery,verification}.{enabled,use,notify_unknown_recipients}
selfservice.flows.{login,registration}.style
selfservice.flows.registration.{enabled,enable_legacy_one_step,login_hints}
selfservice.flows.settings.{privileged_session_max_age,required_aal}
selfservice.flows.logout.after.default_browser_return_url
";

/// Every listed path, braces expanded.
fn entries() -> &'static [String] {
    static ALL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        KEYS.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .flat_map(expand)
            .collect()
    })
}

fn expand(line: &str) -> Vec<String> {
    let Some(open) = line.find('{') else {
        return vec![line.to_owned()];
    };
    let close = open + line[open..].find('}').expect("balanced braces in KEYS");
    let (head, tail) = (&line[..open], &line[close + 1..]);
    line[open + 1..close]
        .split(',')
        .flat_map(|alt| expand(&format!("{head}{alt}{tail}")))
        .collect()
}

/// Whether `path` (dotted, array elements as `[]`, e.g. `identity.schemas[].url`) is a key of
/// Kratos v26.2's configuration.
pub fn is_kratos_key(path: &str) -> bool {
    entries().iter().any(|e| {
        if let Some(prefix) = e.strip_suffix(".**") {
            path == prefix || path.starts_with(&format!("{prefix}.")) || under(prefix, path)
        } else {
            e == path || under(e, path)
        }
    })
}

/// `path` is a parent of `entry` (`serve` of `serve.public.port`, `a` of `a[].b`).
fn under(entry: &str, path: &str) -> bool {
    entry.len() > path.len()
        && entry.starts_with(path)
        && matches!(entry.as_bytes()[path.len()], b'.' | b'[')
}

/// The Kratos keys one level below `path` (for "did you mean"), as their last segment.
pub fn children(path: &str) -> Vec<String> {
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    let mut out: Vec<String> = entries()
        .iter()
        .filter_map(|e| e.strip_prefix(&prefix))
        .filter_map(|rest| rest.split(['.', '[']).next())
        .filter(|s| !s.is_empty() && *s != "**")
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What to tell the operator about a Kratos key Verity ignores: the most specific match wins;
/// `None` when no entry covers it.
pub fn why_ignored(path: &str) -> Option<&'static str> {
    const REASONS: &[(&str, &str)] = &[
        (
            "selfservice.methods.totp",
            "TOTP (authenticator apps) is not available in Verity and is never offered in a flow",
        ),
        (
            "selfservice.methods.lookup_secret",
            "lookup secrets (recovery codes) are not available in Verity and are never offered in a flow",
        ),
        (
            "selfservice.methods.webauthn",
            "WebAuthn is not available in Verity and is never offered in a flow",
        ),
        (
            "selfservice.methods.passkey",
            "passkeys are not available in Verity and are never offered in a flow",
        ),
        (
            "selfservice.methods.b2b",
            "organizations (B2B single sign-on) are not available in Verity",
        ),
        (
            "organizations",
            "organizations (B2B single sign-on) are not available in Verity",
        ),
        (
            "oauth2_provider",
            "the OAuth2 provider integration (Ory Hydra login/consent) is not available in Verity",
        ),
        (
            "selfservice.methods.password.config.migrate_hook",
            "the password migration web hook is not available; import hashes with `hashed_password` instead",
        ),
        (
            "selfservice.methods.password.config.haveibeenpwned_host",
            "Verity does not call haveibeenpwned; `haveibeenpwned_enabled` checks the bundled offline list instead",
        ),
        (
            "selfservice.methods.password.config.max_breaches",
            "Verity does not call haveibeenpwned; a password on the bundled list is refused outright",
        ),
        (
            "selfservice.methods.password.config.ignore_network_errors",
            "Verity's breached-password check is offline, so there are no network errors to ignore",
        ),
        (
            "selfservice.methods.code.mfa_enabled",
            "Verity has no second factor; the code method signs in and verifies only",
        ),
        (
            "session.whoami.tokenizer",
            "session-to-JWT tokenization is not available in Verity",
        ),
        (
            "tracing",
            "OpenTelemetry/Jaeger tracing is not available; request spans go to the log (`log.format: json`)",
        ),
        (
            "serve.public.tls",
            "Verity does not terminate TLS; put a TLS-terminating proxy in front (see `serve.public.trusted_proxies`)",
        ),
        (
            "serve.admin.tls",
            "Verity does not terminate TLS; put a TLS-terminating proxy in front",
        ),
        (
            "serve.public.socket",
            "Verity listens on TCP only (`serve.public.host`, `serve.public.port`)",
        ),
        (
            "serve.admin.socket",
            "Verity listens on TCP only (`serve.admin.host`, `serve.admin.port`)",
        ),
        (
            "serve.public.cors.debug",
            "refused CORS requests are logged at debug level whatever this says",
        ),
        (
            "serve.public.cors.options_passthrough",
            "Verity answers every CORS preflight itself",
        ),
        (
            "clients.http",
            "outgoing HTTP calls go only to the URLs the configuration names; there is no private-range filter",
        ),
        (
            "clients.web_hook",
            "web hooks send the headers their config lists; there is no allow-list",
        ),
        (
            "hashers.argon2.expected_duration",
            "argon2 cost is set by `iterations` and `memory`; `verity hashers argon2 calibrate` finds them",
        ),
        (
            "hashers.argon2.expected_deviation",
            "argon2 cost is set by `iterations` and `memory`; `verity hashers argon2 calibrate` finds them",
        ),
        (
            "hashers.argon2.dedicated_memory",
            "`hashers.argon2.max_concurrent` bounds the memory hashing takes",
        ),
        (
            "security.account_enumeration",
            "Verity answers known and unknown addresses alike in every flow already",
        ),
        (
            "log.redaction_text",
            "secrets are never logged, so there is nothing to redact",
        ),
        (
            "preview",
            "Verity always reads its own writes (one database)",
        ),
        (
            "enterprise",
            "enterprise features are not available in Verity",
        ),
        (
            "identity.schemas[].selfservice_selectable",
            "sign-up always uses `identity.default_schema_id`",
        ),
        (
            "feature_flags",
            "this feature flag has no counterpart in Verity",
        ),
        (
            "selfservice.flows.registration.enable_legacy_one_step",
            "registration is always one step in Verity",
        ),
    ];
    REASONS
        .iter()
        .filter(|(p, _)| path == *p || path.starts_with(&format!("{p}.")))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, why)| *why)
}

/// The reason given when no entry of `why_ignored` fits.
pub const GENERIC: &str = "this Kratos key has no counterpart in Verity";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_parents_and_subtrees_are_known() {
        for p in [
            "version",
            "serve",
            "serve.public.cors",
            "serve.public.cors.allowed_origins",
            "serve.admin.tls.cert.path",
            "selfservice.methods.totp.config.issuer",
            "identity.schemas[].selfservice_selectable",
            "courier.templates.login_code.valid.email.body.html",
            "selfservice.flows.settings.after.profile.hooks[].config.url",
            "hashers.bcrypt.cost",
        ] {
            assert!(is_kratos_key(p), "{p}");
        }
        for p in [
            "serve.public.prot",
            "serve.admin.cors",
            "hashers.scrypt",
            "versions",
            "selfservice.flows.verification.style",
        ] {
            assert!(!is_kratos_key(p), "{p}");
        }
    }

    #[test]
    fn children_list_the_next_segment() {
        let c = children("hashers");
        assert_eq!(c, ["algorithm", "argon2", "bcrypt"]);
        assert!(children("").contains(&"selfservice".to_owned()));
    }

    #[test]
    fn the_most_specific_reason_wins() {
        assert!(
            why_ignored("selfservice.methods.totp.enabled").is_some_and(|w| w.contains("TOTP"))
        );
        assert!(
            why_ignored("feature_flags.use_continue_with_transitions")
                .is_some_and(|w| w.contains("flag"))
        );
        assert_eq!(why_ignored("whatever"), None);
    }
}
