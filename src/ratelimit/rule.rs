//! The rules: a stable id (the counter key's prefix), a window and where the limit comes from.

use super::RateLimitsConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Verification messages per address, default 5 per 10 minutes.
    VerificationSendPerAddressShort,
    /// Verification messages per address, default 10 per 24 hours.
    VerificationSendPerAddressDay,
    /// Wrong codes per (address, client) across flows and resends, default 20 per 24 hours.
    CodeFailuresPerAddressDay,
    /// Flows created per client IP, default 60 per minute.
    FlowCreatePerIp,
    /// Messages triggered per client IP, default 30 per 10 minutes.
    SendPerIp,
    /// Form submissions per client IP, default 60 per minute.
    SubmitPerIp,
    /// Login attempts per client IP, default 30 per minute.
    LoginPerIp,
    /// Failed logins per submitted identifier from any client: the hard lock, default 100
    /// per 15 minutes (a client the identity signed in from before is spared it).
    LoginFailuresPerAccount,
    /// Failed logins per (identifier, client), default 5 per minute: the first step of the
    /// growing delay.
    LoginFailuresPerClientMinute,
    /// Failed logins per (identifier, client), default 20 per hour: the second step.
    LoginFailuresPerClientHour,
    /// Wrong codes per address from all clients together, default 100 per 24 hours (the
    /// per-client budget is `CodeFailuresPerAddressDay`).
    CodeFailuresPerAddressTotalDay,
    /// Partner API sends per phone number, default 5 per 10 minutes.
    PhoneApiSendPerNumber,
    /// Partner API sends per API key, default 100 per minute.
    PhoneApiSendPerKey,
    /// Partner API wrong codes per phone number across requests, default 10 per 24 hours.
    PhoneApiFailuresPerNumberDay,
    /// SMS and voice messages per number range (all digits but the last three) per 24 hours;
    /// the limit comes from `protection.sms`, so only `Batch::budget` applies it.
    SmsPerRangeDay,
    /// SMS and voice messages per country per 24 hours (`protection.sms`).
    SmsPerCountryDay,
    /// SMS and voice messages in total per 24 hours (`protection.sms`).
    SmsGlobalDay,
}

impl Rule {
    pub const ALL: [Rule; 17] = [
        Rule::VerificationSendPerAddressShort,
        Rule::VerificationSendPerAddressDay,
        Rule::CodeFailuresPerAddressDay,
        Rule::FlowCreatePerIp,
        Rule::SendPerIp,
        Rule::SubmitPerIp,
        Rule::LoginPerIp,
        Rule::LoginFailuresPerAccount,
        Rule::LoginFailuresPerClientMinute,
        Rule::LoginFailuresPerClientHour,
        Rule::CodeFailuresPerAddressTotalDay,
        Rule::PhoneApiSendPerNumber,
        Rule::PhoneApiSendPerKey,
        Rule::PhoneApiFailuresPerNumberDay,
        Rule::SmsPerRangeDay,
        Rule::SmsPerCountryDay,
        Rule::SmsGlobalDay,
    ];

    /// Stable name, stored as the key's prefix and used as the metric label: renaming one
    /// restarts its counters.
    pub fn id(self) -> &'static str {
        match self {
            Rule::VerificationSendPerAddressShort => "verification_send_address_10m",
            Rule::VerificationSendPerAddressDay => "verification_send_address_day",
            Rule::CodeFailuresPerAddressDay => "code_failure_address_day",
            Rule::FlowCreatePerIp => "flow_create_ip_1m",
            Rule::SendPerIp => "send_ip_10m",
            Rule::SubmitPerIp => "submit_ip_1m",
            Rule::LoginPerIp => "login_ip_1m",
            Rule::LoginFailuresPerAccount => "login_failure_account_15m",
            Rule::LoginFailuresPerClientMinute => "login_failure_client_1m",
            Rule::LoginFailuresPerClientHour => "login_failure_client_1h",
            Rule::CodeFailuresPerAddressTotalDay => "code_failure_address_total_day",
            Rule::PhoneApiSendPerNumber => "phone_send_number_10m",
            Rule::PhoneApiSendPerKey => "phone_send_key_1m",
            Rule::PhoneApiFailuresPerNumberDay => "phone_failure_number_day",
            Rule::SmsPerRangeDay => "sms_range_day",
            Rule::SmsPerCountryDay => "sms_country_day",
            Rule::SmsGlobalDay => "sms_global_day",
        }
    }

    /// Length of the rule's window in seconds.
    pub fn window_secs(self) -> i64 {
        match self {
            Rule::FlowCreatePerIp
            | Rule::SubmitPerIp
            | Rule::LoginPerIp
            | Rule::PhoneApiSendPerKey
            | Rule::LoginFailuresPerClientMinute => 60,
            Rule::VerificationSendPerAddressShort
            | Rule::SendPerIp
            | Rule::PhoneApiSendPerNumber => 600,
            Rule::LoginFailuresPerAccount => 900,
            Rule::LoginFailuresPerClientHour => 3600,
            Rule::VerificationSendPerAddressDay
            | Rule::CodeFailuresPerAddressDay
            | Rule::CodeFailuresPerAddressTotalDay
            | Rule::PhoneApiFailuresPerNumberDay
            | Rule::SmsPerRangeDay
            | Rule::SmsPerCountryDay
            | Rule::SmsGlobalDay => 86_400,
        }
    }

    /// Hits allowed per window by `selfservice.rate_limits`; 0 means the rule is off there.
    /// The SMS caps are 0 here: their limits come from `protection.sms`.
    pub fn limit(self, cfg: &RateLimitsConfig) -> u32 {
        match self {
            Rule::VerificationSendPerAddressShort => cfg.verification_sends_per_address_10m,
            Rule::VerificationSendPerAddressDay => cfg.verification_sends_per_address_day,
            Rule::CodeFailuresPerAddressDay => cfg.code_failures_per_address_day,
            Rule::FlowCreatePerIp => cfg.flows_per_ip_minute,
            Rule::SendPerIp => cfg.sends_per_ip_10m,
            Rule::SubmitPerIp => cfg.submissions_per_ip_minute,
            Rule::LoginPerIp => cfg.logins_per_ip_minute,
            Rule::LoginFailuresPerAccount => cfg.login_failures_per_account_15m,
            Rule::LoginFailuresPerClientMinute => cfg.login_failures_per_client_minute,
            Rule::LoginFailuresPerClientHour => cfg.login_failures_per_client_hour,
            Rule::CodeFailuresPerAddressTotalDay => cfg.code_failures_per_address_total_day,
            Rule::PhoneApiSendPerNumber => cfg.phone_sends_per_number_10m,
            Rule::PhoneApiSendPerKey => cfg.phone_sends_per_key_minute,
            Rule::PhoneApiFailuresPerNumberDay => cfg.phone_failures_per_number_day,
            Rule::SmsPerRangeDay | Rule::SmsPerCountryDay | Rule::SmsGlobalDay => 0,
        }
    }
}
