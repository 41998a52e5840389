//! `courier.*`: SMTP, SMS/voice channels, templates and the worker.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{GoDuration, Sensitive};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CourierConfig {
    pub delivery_strategy: String,
    pub smtp: SmtpConfig,
    pub http: Option<HttpDelivery>,
    pub channels: Vec<ChannelConfig>,
    pub message_retries: u32,
    pub worker: WorkerConfig,
    /// A directory laid out as `<kind>/<valid|invalid>/<part>.hbs` (Handlebars, not Go
    /// templates); files found there replace the built-in ones.
    pub template_override_path: Option<String>,
    /// Per-template overrides, Kratos's shape: `verification_code: {valid: {email: {subject,
    /// body: {html, plaintext}}, sms: {body: {plaintext}}, voice: {body: {plaintext}}}}`.
    /// Values are `file://path`, `base64://…` or the template text itself.
    pub templates: BTreeMap<String, TemplateSet>,
}

impl Default for CourierConfig {
    fn default() -> Self {
        Self {
            delivery_strategy: "smtp".into(),
            smtp: SmtpConfig::default(),
            http: None,
            channels: Vec::new(),
            message_retries: 5,
            worker: WorkerConfig::default(),
            template_override_path: None,
            templates: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// `smtp://user:pass@host:587/` (STARTTLS required unless `?disable_starttls=true`),
    /// `smtps://…` (implicit TLS); `?skip_ssl_verify=true` for test servers.
    pub connection_uri: Option<Sensitive>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub local_name: Option<String>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            connection_uri: None,
            from_address: "no-reply@verity.local".into(),
            from_name: None,
            headers: BTreeMap::new(),
            local_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpDelivery {
    pub request_config: RequestConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// `sms` or `voice`.
    pub id: String,
    #[serde(rename = "type", default = "default_channel_type")]
    pub kind: String,
    #[serde(default)]
    pub request_config: Option<RequestConfig>,
    #[serde(default)]
    pub preset: Option<ChannelPreset>,
}

fn default_channel_type() -> String {
    "http".into()
}

/// Ready-made gateways; `base_url` points them at a test server or a regional endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "provider", rename_all = "snake_case")]
pub enum ChannelPreset {
    Twilio {
        account_sid: String,
        auth_token: Sensitive,
        from: String,
        #[serde(default)]
        base_url: Option<String>,
    },
    Vonage {
        api_key: String,
        api_secret: Sensitive,
        from: String,
        #[serde(default)]
        base_url: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A Jsonnet template: `base64://…`, `file://…` or inline.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub auth: Option<ChannelAuth>,
}

fn default_method() -> String {
    "POST".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    tag = "type",
    content = "config",
    rename_all = "snake_case"
)]
pub enum ChannelAuth {
    BasicAuth {
        user: String,
        password: Sensitive,
    },
    ApiKey {
        name: String,
        value: Sensitive,
        #[serde(rename = "in", default = "default_api_key_in")]
        location: String,
    },
}

fn default_api_key_in() -> String {
    "header".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Most messages claimed at once (never more than there are free senders).
    pub pull_count: u32,
    /// How long an idle worker waits before looking again when no wake-up came: the fallback
    /// for missed wake-ups (a queued message wakes the worker at once).
    pub pull_wait: GoDuration,
    /// Concurrent senders inside one process. A send is mostly waiting on the provider, so
    /// lanes are cheap; with 4 (the earlier default) the queue, not the provider, set the time
    /// to inbox once a few hundred codes a second were sent. A worker also keeps at most twice
    /// this many messages claimed and not yet recorded: what it may send again if it dies.
    pub concurrency: usize,
    /// How long a claimed message stays leased to its worker. The worker's heartbeat renews
    /// the lease every fifth of it while the send is in flight, so a slow provider is fine; a
    /// worker that dies gives its messages back after at most this long.
    pub lease: GoDuration,
    /// How long after a finished message's expiry (or its last attempt, for messages without
    /// one) its sealed subject, texts and template data are erased.
    pub purge_bodies_after: GoDuration,
    /// How long a worker woken by a queued message waits before it claims (Verity's own
    /// key). A request's wake-up comes once its response is written (`http::wake_after`);
    /// one timer tick more keeps the delivery's claim off the CPU while that answer is on its
    /// way, so that a real message's send answers as fast as a decoy's, which wakes no one (the
    /// timing parity of known and unknown addresses, SECURITY.md C3: with `0s`, Postgres told
    /// a known address's send from an unknown one's by +0.1 ms, KS p 0.002, in
    /// `cargo bench --bench timing`). It also gathers a burst into one claim. `0s` claims at
    /// once.
    pub wake_settle: GoDuration,
    /// Run the worker inside `verity serve` (Kratos's `--watch-courier`). Turn it off when
    /// separate `verity courier watch` processes send the messages.
    pub enabled: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            pull_count: 10,
            pull_wait: GoDuration::from_secs(1),
            concurrency: 16,
            lease: GoDuration::from_secs(5),
            purge_bodies_after: GoDuration::from_secs(3600),
            wake_settle: GoDuration::from_millis(1),
            enabled: true,
        }
    }
}

/// `courier.templates.<kind>`: the `valid` and `invalid` variants.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateSet {
    pub valid: Option<TemplateVariant>,
    pub invalid: Option<TemplateVariant>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateVariant {
    pub email: Option<EmailTemplates>,
    pub sms: Option<TextTemplates>,
    pub voice: Option<TextTemplates>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EmailTemplates {
    pub subject: Option<String>,
    pub body: Option<EmailBodyTemplates>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EmailBodyTemplates {
    pub html: Option<String>,
    pub plaintext: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TextTemplates {
    pub body: Option<TextBodyTemplates>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TextBodyTemplates {
    pub plaintext: Option<String>,
}
