//! `selfservice.*`: methods, flows and their hooks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GoDuration;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfServiceConfig {
    pub default_browser_return_url: String,
    #[serde(default)]
    pub allowed_return_urls: Vec<String>,
    #[serde(default)]
    pub methods: MethodsConfig,
    #[serde(default)]
    pub flows: FlowsConfig,
    #[serde(default)]
    pub rate_limits: crate::ratelimit::RateLimitsConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MethodsConfig {
    pub password: PasswordMethod,
    pub code: CodeMethod,
    pub link: LinkMethod,
    pub profile: Toggle,
    pub oidc: OidcMethod,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Toggle {
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordMethod {
    pub enabled: bool,
    pub config: PasswordMethodConfig,
}

impl Default for PasswordMethod {
    fn default() -> Self {
        Self {
            enabled: true,
            config: PasswordMethodConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordMethodConfig {
    pub min_password_length: usize,
    pub identifier_similarity_check_enabled: bool,
    /// Kratos asks haveibeenpwned; Verity checks a bundled list of common passwords instead.
    pub haveibeenpwned_enabled: bool,
}

impl Default for PasswordMethodConfig {
    fn default() -> Self {
        Self {
            min_password_length: 8,
            identifier_similarity_check_enabled: true,
            haveibeenpwned_enabled: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CodeMethod {
    pub enabled: Option<bool>,
    pub passwordless_enabled: bool,
    pub mfa_enabled: bool,
    pub config: CodeMethodConfig,
}

impl CodeMethod {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeAlphabet {
    #[default]
    Numeric,
    Alphanumeric,
}

/// Verity's defaults are tighter than Kratos's: codes live 10 minutes (NIST 800-63B).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CodeMethodConfig {
    pub lifespan: GoDuration,
    pub max_submissions: u32,
    pub length: usize,
    pub alphabet: CodeAlphabet,
    /// Sends allowed per flow (the first send plus resends) before a new flow is needed.
    pub max_resends: u32,
    pub missing_credential_fallback_enabled: bool,
}

impl Default for CodeMethodConfig {
    fn default() -> Self {
        Self {
            lifespan: GoDuration::from_secs(600),
            max_submissions: 5,
            length: 6,
            alphabet: CodeAlphabet::Numeric,
            max_resends: 3,
            missing_credential_fallback_enabled: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinkMethod {
    pub enabled: bool,
    pub config: LinkMethodConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinkMethodConfig {
    pub lifespan: GoDuration,
    /// Deprecated in Kratos and ignored here: links use `serve.public.base_url`.
    pub base_url: Option<String>,
}

impl Default for LinkMethodConfig {
    fn default() -> Self {
        Self {
            lifespan: GoDuration::from_secs(3600),
            base_url: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OidcMethod {
    pub enabled: bool,
    pub config: OidcMethodConfig,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OidcMethodConfig {
    /// Checked further (provider kind, URLs, mapper) by `crate::oidc::Providers` at start.
    pub providers: Vec<crate::oidc::ProviderConfig>,
    pub base_redirect_uri: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    pub verification: VerificationFlowConfig,
    pub registration: GenericFlowConfig,
    pub login: GenericFlowConfig,
    pub settings: GenericFlowConfig,
    pub recovery: GenericFlowConfig,
    pub error: UiOnly,
    pub logout: LogoutFlowConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStrategy {
    #[default]
    Code,
    Link,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationFlowConfig {
    pub enabled: bool,
    pub ui_url: Option<String>,
    pub lifespan: GoDuration,
    #[serde(rename = "use")]
    pub strategy: VerificationStrategy,
    pub notify_unknown_recipients: bool,
    pub before: HooksOnly,
    pub after: AfterConfig,
}

impl Default for VerificationFlowConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ui_url: None,
            lifespan: GoDuration::from_secs(3600),
            strategy: VerificationStrategy::Code,
            notify_unknown_recipients: false,
            before: HooksOnly::default(),
            after: AfterConfig::default(),
        }
    }
}

/// Registration, login, settings and recovery share this shape; their issues give the
/// method-specific keys meaning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GenericFlowConfig {
    pub enabled: Option<bool>,
    pub ui_url: Option<String>,
    pub lifespan: GoDuration,
    pub privileged_session_max_age: Option<GoDuration>,
    pub required_aal: Option<String>,
    #[serde(rename = "use")]
    pub strategy: Option<String>,
    pub notify_unknown_recipients: bool,
    pub style: Option<String>,
    pub login_hints: bool,
    pub before: HooksOnly,
    pub after: AfterConfig,
}

impl Default for GenericFlowConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            ui_url: None,
            lifespan: GoDuration::from_secs(3600),
            privileged_session_max_age: None,
            required_aal: None,
            strategy: None,
            notify_unknown_recipients: false,
            style: None,
            login_hints: false,
            before: HooksOnly::default(),
            after: AfterConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UiOnly {
    pub ui_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogoutFlowConfig {
    pub after: ReturnOnly,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReturnOnly {
    pub default_browser_return_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HooksOnly {
    pub hooks: Vec<HookConfig>,
}

/// `after:` of a flow: a global hook list plus per-method lists that replace it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AfterConfig {
    pub default_browser_return_url: Option<String>,
    pub hooks: Vec<HookConfig>,
    pub password: Option<MethodAfter>,
    pub code: Option<MethodAfter>,
    pub oidc: Option<MethodAfter>,
    pub profile: Option<MethodAfter>,
    pub link: Option<MethodAfter>,
    pub webauthn: Option<MethodAfter>,
    pub passkey: Option<MethodAfter>,
    pub totp: Option<MethodAfter>,
    pub lookup_secret: Option<MethodAfter>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MethodAfter {
    pub default_browser_return_url: Option<String>,
    pub hooks: Vec<HookConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    pub hook: String,
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}
