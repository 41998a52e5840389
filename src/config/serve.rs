//! `serve.public` and `serve.admin`: where each port listens and how it answers browsers
//! from other origins (CORS).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GoDuration;

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
    /// Kratos's CORS options; on `serve.admin` too (a Verity addition).
    pub cors: CorsConfig,
    pub request_log: RequestLogConfig,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            host: "127.0.0.1".into(),
            port: None,
            request_body_limit: 64 * 1024,
            trusted_proxies: Vec::new(),
            cors: CorsConfig::default(),
            request_log: RequestLogConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogConfig {
    /// No request span (and so no request log line) for `/health/alive` and `/health/ready`.
    pub disable_for_health: bool,
}

/// Kratos's defaults: off; when on, every origin, the usual methods, credentials allowed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    pub enabled: bool,
    /// `*` for any origin, or origins with at most one `*` wildcard (`https://*.example.com`).
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    pub allow_credentials: bool,
    /// Seconds a browser may cache a preflight answer; 0 sends no `Access-Control-Max-Age`.
    pub max_age: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Self {
            enabled: false,
            allowed_origins: list(&["*"]),
            allowed_methods: list(&["POST", "GET", "PUT", "PATCH", "DELETE"]),
            allowed_headers: list(&[
                "Authorization",
                "Content-Type",
                "Max-Age",
                "X-Session-Token",
                "X-XSRF-TOKEN",
                "X-CSRF-TOKEN",
            ]),
            exposed_headers: list(&["Content-Type"]),
            allow_credentials: true,
            max_age: 0,
        }
    }
}
