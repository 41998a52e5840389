//! The configuration tree. Key names are Kratos's (see `config.yml`), so a Kratos config file
//! loads unchanged where Verity implements the feature. Unknown keys are rejected.

mod bytesize;
mod courier;
mod duration;
mod env;
mod load;
mod secret;
mod security;
mod selfservice;
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
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub public: EndpointConfig,
    pub admin: EndpointConfig,
    /// On SIGTERM, how long new requests are answered 503 (`Retry-After: 1`, and
    /// `/health/ready` fails) before the listeners close, so a load balancer moves away first.
    /// In-flight requests and sends finish either way. 0 closes at once.
    pub drain: GoDuration,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointConfig {
    /// The URL this endpoint is reached at; links in messages are built from it.
    pub base_url: Option<String>,
    pub host: String,
    /// 0 leaves the choice to the operating system (tests use it).
    pub port: Option<u16>,
    /// Largest request body accepted, in bytes; bigger bodies get 413.
    pub request_body_limit: usize,
    /// CIDRs of proxies whose X-Forwarded-For is believed (see `http::client_ip`).
    pub trusted_proxies: Vec<String>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            host: "127.0.0.1".into(),
            port: None,
            request_body_limit: 64 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
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
    pub algorithm: HashAlgorithm,
    pub argon2: Argon2Config,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    #[default]
    Argon2,
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
