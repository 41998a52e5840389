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
    /// Kratos asks haveibeenpwned; Verity checks a bundled offline list of common and
    /// breached passwords instead (no network call). On by default, as in Kratos.
    pub haveibeenpwned_enabled: bool,
}

impl Default for PasswordMethodConfig {
    fn default() -> Self {
        Self {
            min_password_length: 8,
            identifier_similarity_check_enabled: true,
            haveibeenpwned_enabled: true,
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
    /// Opt-in for codes with fewer than a million values (numeric codes shorter than 6),
    /// below NIST 800-63B's 20 bits; `effective()` then tightens tries, failures and life.
    pub allow_short_codes: bool,
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
            allow_short_codes: false,
        }
    }
}

/// NIST 800-63B 5.1.3.2: an out-of-band secret has at least 20 bits, i.e. about 10^6 values.
const STRONG_CODE_SPACE: u128 = 1_000_000;
/// Below 10^4 values (4 digits) no failure budget keeps guessing improbable.
const MIN_CODE_SPACE: u128 = 10_000;
/// Short codes: at most this many tries per code...
const SHORT_CODE_TRIES: u32 = 3;
/// ...this share of the code space guessed per address per day (0.1 %)...
const SHORT_CODE_DAILY_SHARE: u128 = 1_000;
/// ...and this life (SECURITY.md B3).
const SHORT_CODE_LIFESPAN: GoDuration = GoDuration::from_secs(300);

/// The code settings the flows apply: the configured ones, tightened for short codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveCode {
    pub length: usize,
    pub alphabet: CodeAlphabet,
    pub lifespan: GoDuration,
    pub max_submissions: u32,
    /// A cap on `selfservice.rate_limits.code_failures_per_address_day`; `None` keeps it.
    pub failures_per_address_day: Option<u32>,
    /// The code has fewer than 10^6 values.
    pub short: bool,
}

impl CodeMethodConfig {
    /// How many different codes there are: |alphabet|^length (32 letters and digits, or 10).
    pub fn code_space(&self) -> u128 {
        let base: u128 = match self.alphabet {
            CodeAlphabet::Numeric => 10,
            CodeAlphabet::Alphanumeric => 32,
        };
        base.saturating_pow(u32::try_from(self.length).unwrap_or(u32::MAX))
    }

    /// The values every flow uses. For short codes (opted in with `allow_short_codes`) the
    /// tries per code, the wrong codes per address per day and the lifetime are capped so
    /// that at most 0.1 % of the code space can be tried per address per day.
    pub fn effective(&self) -> EffectiveCode {
        let space = self.code_space();
        let short = space < STRONG_CODE_SPACE;
        let daily = u32::try_from((space / SHORT_CODE_DAILY_SHARE).max(1)).unwrap_or(u32::MAX);
        EffectiveCode {
            length: self.length,
            alphabet: self.alphabet,
            lifespan: if short {
                self.lifespan.min(SHORT_CODE_LIFESPAN)
            } else {
                self.lifespan
            },
            max_submissions: if short {
                self.max_submissions.min(SHORT_CODE_TRIES)
            } else {
                self.max_submissions
            },
            failures_per_address_day: short.then_some(daily),
            short,
        }
    }

    /// Checked at start: `Err` for a code too short to configure at all, or a short one
    /// without the opt-in; `Ok(Some(warning))` for an opted-in short code.
    pub fn check_strength(&self) -> Result<Option<String>, String> {
        const KEY: &str = "selfservice.methods.code.config";
        let space = self.code_space();
        if space < MIN_CODE_SPACE {
            return Err(format!(
                "{KEY}.length: {} gives only {space} possible codes; use at least 6 digits (4 at the very least, with allow_short_codes: true)",
                self.length
            ));
        }
        if space >= STRONG_CODE_SPACE {
            return Ok(None);
        }
        if !self.allow_short_codes {
            return Err(format!(
                "{KEY}.length: {} gives {space} possible codes, under the 10^6 (20 bits) of NIST 800-63B 5.1.3.2; use 6 or more, or set {KEY}.allow_short_codes: true to accept tighter limits",
                self.length
            ));
        }
        let e = self.effective();
        Ok(Some(format!(
            "{KEY}.length is {} ({space} possible codes, below NIST 800-63B's 20 bits): codes live {}s, allow {} tries each and {} wrong codes per address per day",
            self.length,
            e.lifespan.std().as_secs(),
            e.max_submissions,
            e.failures_per_address_day.unwrap_or_default(),
        )))
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
