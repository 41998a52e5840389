//! The configuration tree. Key names are Kratos's (see `config.yml`), so a Kratos config file
//! loads unchanged where Verity implements the feature. Unknown keys are rejected.

mod bytesize;
mod check;
mod courier;
mod duration;
mod env;
mod keys;
mod kratos_keys;
mod load;
mod secret;
mod security;
mod selfservice;
mod serve;
mod ui;

pub use bytesize::ByteSize;
pub use courier::{
    ChannelAuth, ChannelConfig, ChannelPreset, CourierConfig, RequestConfig, SmtpConfig,
    WorkerConfig,
};
pub use duration::GoDuration;
pub use load::{ConfigError, ConfigSource, load};
pub use secret::Sensitive;
pub use security::{
    AdminHostsConfig, ClientLimitsConfig, FetchMetadataConfig, NumberType, ProtectionConfig,
    SmsPolicyConfig,
};
pub use selfservice::{
    AfterConfig, CodeAlphabet, CodeMethodConfig, EffectiveCode, FlowsConfig, GenericFlowConfig,
    HookConfig, LinkMethodConfig, MethodAfter, MethodsConfig, SelfServiceConfig,
    VerificationFlowConfig, VerificationStrategy,
};
pub use serve::{CorsConfig, EndpointConfig, RequestLogConfig, ServeConfig};
pub use ui::{SuccessRedirects, UiConfig};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `memory`, `sqlite://path`, or `postgres://user:pass@host/db`.
    pub dsn: Sensitive,
    #[serde(default)]
    pub serve: ServeConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub log: LogConfig,
    pub identity: IdentityConfig,
    pub selfservice: SelfServiceConfig,
    #[serde(default)]
    pub courier: CourierConfig,
    #[serde(default)]
    pub session: SessionConfig,
    #[serde(default)]
    pub cookies: CookiesConfig,
    #[serde(default)]
    pub hashers: HashersConfig,
    #[serde(default)]
    pub feature_flags: FeatureFlags,
    #[serde(default)]
    pub phone_verification: crate::phone::PhoneVerificationConfig,
    #[serde(default)]
    pub ui: UiConfig,
    /// Verity's abuse defences (SMS policy, Fetch Metadata, slow clients, admin hosts).
    #[serde(default)]
    pub protection: ProtectionConfig,
    /// Kratos's: the Kratos version the file was written for. Accepted; nothing depends on it.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub ciphers: CiphersConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    /// One line per key that Kratos knows and Verity ignores, filled by `load`.
    #[serde(skip)]
    #[schemars(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    pub default: Vec<Sensitive>,
    pub cookie: Vec<Sensitive>,
    pub cipher: Vec<Sensitive>,
    pub pagination: Vec<Sensitive>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
    /// Accepted for Kratos compatibility; Verity never logs secrets whatever this says.
    pub leak_sensitive_values: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            leak_sensitive_values: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    #[serde(default = "default_schema_id")]
    pub default_schema_id: String,
    pub schemas: Vec<SchemaSource>,
    /// When an identity counts as verified (the read-only `verified` field): `any` of its
    /// verifiable addresses verified, or `all` of them.
    #[serde(default)]
    pub verified_rule: crate::identity::VerifiedRule,
    /// How long an identity that has verifiable addresses but never verified any of them
    /// keeps them (Verity's own key; unset: forever). After it, a sign-up naming one of its
    /// addresses replaces it, and the cleanup removes it, so an account opened with someone
    /// else's address cannot hold that address against its owner.
    #[serde(default)]
    pub unverified_lifespan: Option<GoDuration>,
}

fn default_schema_id() -> String {
    "default".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaSource {
    pub id: String,
    /// `file://path` or `base64://...`.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    pub lifespan: GoDuration,
    pub earliest_possible_extend: Option<GoDuration>,
    pub cookie: SessionCookieConfig,
    /// Skygear's "only verified users may call user APIs": whoami refuses identities
    /// without a verified address.
    pub whoami: WhoamiConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: GoDuration::from_secs(24 * 3600),
            earliest_possible_extend: None,
            cookie: SessionCookieConfig::default(),
            whoami: WhoamiConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WhoamiConfig {
    pub required_aal: Option<String>,
    pub require_verified_address: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionCookieConfig {
    pub name: String,
    pub persistent: bool,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub same_site: Option<SameSite>,
}

impl Default for SessionCookieConfig {
    fn default() -> Self {
        Self {
            name: "ory_kratos_session".into(),
            persistent: true,
            domain: None,
            path: None,
            same_site: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CookiesConfig {
    pub domain: Option<String>,
    pub path: String,
    pub same_site: SameSite,
    pub secure: Option<bool>,
}

impl Default for CookiesConfig {
    fn default() -> Self {
        Self {
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HashersConfig {
    /// The hasher new passwords get; stored hashes of any supported kind keep verifying, and
    /// are rehashed with this one at their next successful sign-in.
    pub algorithm: HashAlgorithm,
    pub argon2: Argon2Config,
    pub bcrypt: BcryptConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    #[default]
    Argon2,
    Bcrypt,
}

/// Kratos's bcrypt hasher: cost 4 to 31 (each step doubles the time), 12 by default.
/// bcrypt reads only the first 72 bytes of a password; longer ones are refused at sign-up.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BcryptConfig {
    pub cost: u32,
}

impl Default for BcryptConfig {
    fn default() -> Self {
        Self { cost: 12 }
    }
}

/// Kratos's `database.cleanup` (the settings of `verity cleanup sql`), plus `every` for the
/// in-process schedule.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub cleanup: CleanupConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CleanupConfig {
    /// Rows removed per statement.
    pub batch_size: u32,
    /// Rows are kept until this long after they ended.
    pub older_than: GoDuration,
    pub sleep: CleanupSleep,
    /// Verity: run the cleanup inside `verity serve` this often (off when unset).
    pub every: Option<GoDuration>,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            batch_size: 100,
            older_than: GoDuration::from_secs(0),
            sleep: CleanupSleep::default(),
            every: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CleanupSleep {
    /// Pause between two tables (Kratos waits 1m by default; Verity's batches are short).
    pub tables: GoDuration,
}

/// Kratos's `ciphers`: Verity seals stored message texts with AES-256-GCM (`aes`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CiphersConfig {
    pub algorithm: CipherAlgorithm,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum CipherAlgorithm {
    #[default]
    #[serde(rename = "aes")]
    Aes,
    #[serde(rename = "xchacha20-poly1305")]
    XChaCha20Poly1305,
    #[serde(rename = "noop")]
    Noop,
}

/// OWASP's floor for argon2id: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    pub memory: ByteSize,
    pub iterations: u32,
    pub parallelism: u32,
    pub salt_length: u32,
    pub key_length: u32,
    /// Hashes allowed to run at once; further requests wait briefly, then are shed.
    pub max_concurrent: Option<usize>,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory: ByteSize::kib(19 * 1024),
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
            max_concurrent: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureFlags {
    pub legacy_continue_with_verification_ui: bool,
    pub legacy_require_verified_login_error: bool,
}

impl Settings {
    /// The secrets that key HMACs and cookies: `secrets.cookie`, else `secrets.default`.
    /// The first one signs; all of them verify (rotation).
    pub fn signing_secrets(&self) -> &[Sensitive] {
        if self.secrets.cookie.is_empty() {
            &self.secrets.default
        } else {
            &self.secrets.cookie
        }
    }
}
