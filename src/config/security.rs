//! `protection`: Verity's abuse defences that Kratos has no keys for (the SMS policy, Fetch
//! Metadata, slow clients, the admin port's hosts), kept in one top-level block so that no
//! Kratos key is overloaded. Kratos's own `security` block is left to Kratos's meaning.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{GoDuration, Settings};
use crate::ratelimit::RateLimitsConfig;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionConfig {
    pub sms: SmsPolicyConfig,
    pub fetch_metadata: FetchMetadataConfig,
    pub clients: ClientLimitsConfig,
    pub admin_hosts: AdminHostsConfig,
}

/// Which numbers may get an SMS or a voice call, and how many per day (toll fraud, SMS
/// pumping). Applied to every SMS and voice message, the partner phone API included.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SmsPolicyConfig {
    /// ISO 3166-1 alpha-2 regions (`GB`, `US`, `JM`...) numbers may belong to; empty: all.
    pub allowed_countries: Vec<String>,
    /// E.164 prefixes never sent to, such as `+44909` or `+1900`.
    pub denied_prefixes: Vec<String>,
    /// Number types that may be sent to, as the phone-number metadata classifies them.
    /// Premium-rate, shared-cost, personal, pager, UAN, voicemail, toll-free and unknown
    /// numbers are left out by default.
    pub allowed_number_types: Vec<NumberType>,
    /// Numbers under a calling code of no country (+881 and +870 satellite, +882/+883
    /// international networks, +979 international premium rate): refused unless true.
    pub allow_non_geographic: bool,
    /// Messages per day to numbers that share all digits but their last three: sequential
    /// numbers of one range are what SMS pumping sends to. 0: no cap.
    pub daily_limit_per_range: u32,
    /// Messages per day to one country (region; non-geographic numbers by calling code).
    pub daily_limit_per_country: u32,
    /// Per-country caps that replace `daily_limit_per_country`, by region (`US: 5000`).
    pub country_daily_limits: BTreeMap<String, u32>,
    /// Messages per day in total, a bound on the daily SMS bill.
    pub daily_limit_global: u32,
}

impl Default for SmsPolicyConfig {
    fn default() -> Self {
        Self {
            allowed_countries: Vec::new(),
            denied_prefixes: Vec::new(),
            allowed_number_types: vec![
                NumberType::Mobile,
                NumberType::FixedLineOrMobile,
                NumberType::FixedLine,
                NumberType::Voip,
            ],
            allow_non_geographic: false,
            daily_limit_per_range: 20,
            daily_limit_per_country: 1_000,
            country_daily_limits: BTreeMap::new(),
            daily_limit_global: 10_000,
        }
    }
}

/// `phonenumber`'s classification of a number, in config spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    FixedLine,
    Mobile,
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    PersonalNumber,
    Voip,
    Pager,
    Uan,
    Emergency,
    Voicemail,
    ShortCode,
    StandardRate,
    Carrier,
    NoInternational,
    Unknown,
}

/// Cross-site state-changing requests to the public self-service routes are refused.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FetchMetadataConfig {
    pub enabled: bool,
    /// Origins (`https://app.example.com`, or `https://*.example.com` for every subdomain)
    /// that may post cross-site, besides the public base URL and the flows' `ui_url`s.
    pub allowed_origins: Vec<String>,
    /// Path prefixes that must accept cross-site posts: OIDC providers answer with
    /// `response_mode=form_post` from their own site.
    pub exempt_paths: Vec<String>,
}

impl Default for FetchMetadataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_origins: Vec::new(),
            exempt_paths: vec!["/self-service/methods/oidc/callback/".into()],
        }
    }
}

/// Time limits for reading a request and a cap on one address's connections, on both ports.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClientLimitsConfig {
    /// Time from accepting a connection to the end of the first request's headers.
    pub header_timeout: GoDuration,
    /// Time to read a whole request body once its headers are in; 408 after it.
    pub body_timeout: GoDuration,
    /// Open connections per client address (IPv4, IPv6 /64); 0: no cap. Trusted proxies
    /// (`serve.public.trusted_proxies`) are not capped.
    pub max_connections_per_ip: u32,
}

impl Default for ClientLimitsConfig {
    fn default() -> Self {
        Self {
            header_timeout: GoDuration::from_secs(10),
            body_timeout: GoDuration::from_secs(20),
            max_connections_per_ip: 256,
        }
    }
}

/// The `Host` names the admin port (and with it the dev inbox) answers to: against DNS
/// rebinding, which lets a web page reach a loopback port under its own name.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AdminHostsConfig {
    pub enabled: bool,
    /// Host names or IP addresses allowed besides the hosts of `serve.admin.base_url` and
    /// `serve.public.base_url`, `localhost`, 127.0.0.0/8 and ::1.
    pub allowed: Vec<String>,
}

impl Default for AdminHostsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed: Vec::new(),
        }
    }
}

/// The example secrets published in the bundled `config.yml`: fine for `--dev`, known to all.
const EXAMPLE_SECRETS: [&str; 2] = [
    "dev-only-secret-change-me-0001",
    "dev-only-cookie-secret-change-me",
];
/// 256 bits, as many as the HMAC-SHA-256 keys they become.
const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Outside `--dev`, refuses the bundled example secrets and secrets under 32 bytes,
    /// naming the key, its environment variable and how to make a good one.
    pub fn check_secrets(&self, dev: bool) -> Result<(), String> {
        if dev {
            return Ok(());
        }
        let s = &self.secrets;
        let lists = [
            ("default", &s.default),
            ("cookie", &s.cookie),
            ("cipher", &s.cipher),
            ("pagination", &s.pagination),
        ];
        for (name, list) in lists {
            for (i, secret) in list.iter().enumerate() {
                let key = format!(
                    "secrets.{name}[{i}] (env SECRETS_{}_{i})",
                    name.to_ascii_uppercase()
                );
                let value = secret.expose();
                let problem = if EXAMPLE_SECRETS.contains(&value) {
                    "is the example secret published in the bundled config.yml".to_owned()
                } else if value.len() < MIN_SECRET_BYTES {
                    format!(
                        "is {} bytes long; at least {MIN_SECRET_BYTES} are needed",
                        value.len()
                    )
                } else {
                    continue;
                };
                return Err(format!(
                    "{key} {problem}: set a random one, e.g. from `openssl rand -hex 32` (or run with --dev for local development)"
                ));
            }
        }
        Ok(())
    }

    /// `selfservice.rate_limits` with the code-strength caps applied: what the limiter uses.
    pub fn effective_rate_limits(&self) -> RateLimitsConfig {
        let mut limits = self.selfservice.rate_limits.clone();
        let code = self.selfservice.methods.code.config.effective();
        if let Some(cap) = code.failures_per_address_day {
            limits.code_failures_per_address_day = match limits.code_failures_per_address_day {
                0 => cap,
                n => n.min(cap),
            };
            limits.code_failures_per_address_total_day =
                match limits.code_failures_per_address_total_day {
                    0 => cap,
                    n => n.min(cap),
                };
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CodeAlphabet, CodeMethodConfig};

    fn code(length: usize, opt_in: bool) -> CodeMethodConfig {
        CodeMethodConfig {
            length,
            allow_short_codes: opt_in,
            ..CodeMethodConfig::default()
        }
    }

    #[test]
    fn six_digits_keep_the_configured_values() {
        let c = code(6, false);
        assert_eq!(c.check_strength(), Ok(None));
        let e = c.effective();
        assert!(!e.short);
        assert_eq!(
            (e.max_submissions, e.lifespan),
            (5, GoDuration::from_secs(600))
        );
        assert_eq!(e.failures_per_address_day, None);
    }

    #[test]
    fn short_codes_need_the_opt_in_and_are_tightened() {
        let err = code(4, false).check_strength().unwrap_err();
        assert!(err.contains("allow_short_codes"), "{err}");
        assert!(
            err.contains("selfservice.methods.code.config.length"),
            "{err}"
        );
        let warning = code(4, true).check_strength().unwrap().expect("a warning");
        assert!(warning.contains("3 tries"), "{warning}");
        let e = code(4, true).effective();
        assert!(e.short);
        assert_eq!(e.max_submissions, 3);
        assert_eq!(e.lifespan, GoDuration::from_secs(300));
        assert_eq!(e.failures_per_address_day, Some(10), "0.1 % of 10^4");
        assert_eq!(
            code(5, true).effective().failures_per_address_day,
            Some(100)
        );
        assert!(code(3, true).check_strength().is_err(), "never under 10^4");
    }

    #[test]
    fn four_letters_and_digits_are_twenty_bits_and_need_no_opt_in() {
        let c = CodeMethodConfig {
            length: 4,
            alphabet: CodeAlphabet::Alphanumeric,
            ..CodeMethodConfig::default()
        };
        assert_eq!(c.code_space(), 1_048_576);
        assert_eq!(c.check_strength(), Ok(None));
    }

    fn settings_with(default: &str) -> Settings {
        let text = include_str!("../../config.yml");
        let mut s = Settings::from_yaml(text).unwrap();
        s.secrets.default = vec![crate::config::Sensitive::new(default)];
        s.secrets.cookie = Vec::new();
        s
    }

    #[test]
    fn example_and_short_secrets_are_refused_outside_dev() {
        let bundled = Settings::from_yaml(include_str!("../../config.yml")).unwrap();
        let err = bundled.check_secrets(false).unwrap_err();
        assert!(
            err.starts_with("secrets.default[0] (env SECRETS_DEFAULT_0) is the example"),
            "{err}"
        );
        assert!(err.contains("openssl rand -hex 32"), "{err}");
        assert!(
            !err.contains("dev-only"),
            "the message does not repeat the secret: {err}"
        );
        assert_eq!(bundled.check_secrets(true), Ok(()), "--dev accepts them");
        let short = settings_with("sixteen-chars-ok")
            .check_secrets(false)
            .unwrap_err();
        assert!(short.contains("16 bytes long"), "{short}");
        let good =
            settings_with("5f0c8e1a9b7d4c2e6f3a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e");
        assert_eq!(good.check_secrets(false), Ok(()));
        assert_eq!(
            Settings {
                secrets: Default::default(),
                ..good
            }
            .check_secrets(false),
            Ok(())
        );
    }

    #[test]
    fn protection_defaults_and_unknown_keys() {
        let p: ProtectionConfig = serde_json::from_str("{}").unwrap();
        assert!(!p.sms.allow_non_geographic);
        assert!(
            !p.sms
                .allowed_number_types
                .contains(&NumberType::PremiumRate)
        );
        assert_eq!(p.sms.daily_limit_per_range, 20);
        assert!(p.fetch_metadata.enabled);
        assert_eq!(p.clients.body_timeout, GoDuration::from_secs(20));
        assert_eq!(p.clients.max_connections_per_ip, 256);
        assert!(p.admin_hosts.enabled);
        let bad = serde_json::from_str::<ProtectionConfig>(r#"{"sms": {"allowed": []}}"#);
        assert!(bad.is_err());
        let types: SmsPolicyConfig =
            serde_json::from_str(r#"{"allowed_number_types": ["mobile", "premium_rate"]}"#)
                .unwrap();
        assert_eq!(
            types.allowed_number_types,
            [NumberType::Mobile, NumberType::PremiumRate]
        );
    }
}
