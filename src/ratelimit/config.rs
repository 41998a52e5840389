//! `selfservice.rate_limits`: Verity-specific (Kratos leaves rate limiting to a proxy).
//!
//! Every limit is "hits per fixed window"; 0 switches that one rule off. Defaults follow
//! Twilio Verify's send limits and NIST 800-63B's failure budget.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Off only for load tests or when a proxy in front does the limiting.
    pub enabled: bool,
    /// Verification messages to one address per 10 minutes (Twilio 60203: 5).
    pub verification_sends_per_address_10m: u32,
    /// Verification messages to one address per 24 hours.
    pub verification_sends_per_address_day: u32,
    /// Wrong codes submitted for one address from one client per 24 hours, across flows
    /// and resends, so new flows do not reset the guess budget. Counted per client, so one
    /// attacker's guesses do not keep the owner from verifying.
    pub code_failures_per_address_day: u32,
    /// Wrong codes for one address from all clients together per 24 hours: the hard cap
    /// (NIST 800-63B 5.2.2: at most 100).
    pub code_failures_per_address_total_day: u32,
    /// Self-service flows created per client IP (IPv4 /32, IPv6 /64) per minute.
    pub flows_per_ip_minute: u32,
    /// Messages triggered per client IP per 10 minutes.
    pub sends_per_ip_10m: u32,
    /// Form submissions per client IP per minute.
    pub submissions_per_ip_minute: u32,
    /// Login attempts per client IP per minute.
    pub logins_per_ip_minute: u32,
    /// Failed logins per submitted identifier per 15 minutes from all clients: the hard
    /// lock, which a client the identity signed in from before does not meet.
    pub login_failures_per_account_15m: u32,
    /// Failed logins per (identifier, client) per minute, then per hour: the growing delay
    /// one client meets before the hard lock.
    pub login_failures_per_client_minute: u32,
    pub login_failures_per_client_hour: u32,
    /// Partner phone API: sends to one number per 10 minutes.
    pub phone_sends_per_number_10m: u32,
    /// Partner phone API: sends per API key per minute.
    pub phone_sends_per_key_minute: u32,
    /// Partner phone API: wrong codes for one number per 24 hours, across requests, so new
    /// requests do not reset the guess budget of a 4-digit code (10 failures: at most 0.1 %).
    pub phone_failures_per_number_day: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            verification_sends_per_address_10m: 5,
            verification_sends_per_address_day: 10,
            code_failures_per_address_day: 20,
            code_failures_per_address_total_day: 100,
            flows_per_ip_minute: 60,
            sends_per_ip_10m: 30,
            submissions_per_ip_minute: 60,
            logins_per_ip_minute: 30,
            login_failures_per_account_15m: 100,
            login_failures_per_client_minute: 5,
            login_failures_per_client_hour: 20,
            phone_sends_per_number_10m: 5,
            phone_sends_per_key_minute: 100,
            phone_failures_per_number_day: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gets_the_documented_defaults() {
        let cfg: RateLimitsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, RateLimitsConfig::default());
        assert!(cfg.enabled);
        assert_eq!(cfg.verification_sends_per_address_10m, 5);
        assert_eq!(cfg.verification_sends_per_address_day, 10);
        assert_eq!(cfg.code_failures_per_address_day, 20);
        assert_eq!(cfg.flows_per_ip_minute, 60);
        assert_eq!(cfg.sends_per_ip_10m, 30);
        assert_eq!(cfg.submissions_per_ip_minute, 60);
        assert_eq!(cfg.logins_per_ip_minute, 30);
        assert_eq!(cfg.login_failures_per_account_15m, 100);
        assert_eq!(cfg.login_failures_per_client_minute, 5);
        assert_eq!(cfg.login_failures_per_client_hour, 20);
        assert_eq!(cfg.code_failures_per_address_total_day, 100);
        assert_eq!(cfg.phone_sends_per_number_10m, 5);
        assert_eq!(cfg.phone_sends_per_key_minute, 100);
        assert_eq!(cfg.phone_failures_per_number_day, 10);
    }

    #[test]
    fn partial_section_keeps_other_defaults_and_unknown_keys_fail() {
        let cfg: RateLimitsConfig =
            serde_json::from_str(r#"{"enabled": false, "sends_per_ip_10m": 0}"#).unwrap();
        assert!(!cfg.enabled);
        assert_eq!(cfg.sends_per_ip_10m, 0);
        assert_eq!(cfg.flows_per_ip_minute, 60);
        let err = serde_json::from_str::<RateLimitsConfig>(r#"{"sends_per_ip": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert!(serde_json::from_str::<RateLimitsConfig>(r#"{"sends_per_ip_10m": -1}"#).is_err());
    }
}
