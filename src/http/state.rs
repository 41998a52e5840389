//! The actix app state: the services handlers call, built once at start.

use std::sync::Arc;

use url::Url;

use crate::config::Settings;
use crate::courier::Courier;
use crate::crypto::Keyring;
use crate::flow::core::FlowDeps;
use crate::flow::login::LoginService;
use crate::flow::recovery::RecoveryService;
use crate::flow::registration::RegistrationService;
use crate::flow::settings::SettingsService;
use crate::flow::verification::VerificationService;
use crate::identity::IdentityService;
use crate::ratelimit::RateLimiter;
use crate::session::SessionService;

/// Everything a request handler may need.
#[derive(Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The database's health and pool, for `/health/ready` and `/metrics`.
    pub database: crate::service::Database,
    /// The outbox as the admin API reads it.
    pub outbox: crate::courier::Outbox,
    pub identities: IdentityService,
    pub keyring: Keyring,
    pub courier: Courier,
    pub limiter: RateLimiter,
    pub phone: crate::phone::PhoneService,
    pub sessions: SessionService,
    pub verification: VerificationService,
    pub registration: RegistrationService,
    pub login: LoginService,
    pub settings_flow: SettingsService,
    pub recovery: RecoveryService,
    /// What the flow services share (flow storage, URLs, hooks, delivery).
    pub flows: FlowDeps,
    /// Self-service errors kept for the error UI.
    pub errors: crate::flow::errors::ErrorReports,
    /// `serve.public.trusted_proxies`, parsed once.
    pub trusted_proxies: Vec<crate::http::client_ip::Cidr>,
    pub urls: Urls,
    pub dev: bool,
    /// The built-in pages' templates and catalogues, loaded at start.
    pub ui: crate::http::ui::Ui,
    /// `protection.sms`: which numbers get an SMS or a call, and the daily caps.
    pub sms_policy: crate::delivery::sms_policy::SmsPolicy,
    /// The middleware's policies (cross-site refusal, admin hosts, body deadline).
    pub guards: crate::http::protect::Guards,
    /// Set when a shutdown began: `/health/ready` answers 503 while in-flight work finishes.
    pub draining: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Clone)]
pub struct Urls {
    pub public: Url,
    pub admin: Url,
}

impl AsRef<VerificationService> for AppState {
    fn as_ref(&self) -> &VerificationService {
        &self.verification
    }
}

impl AsRef<LoginService> for AppState {
    fn as_ref(&self) -> &LoginService {
        &self.login
    }
}

impl AsRef<RegistrationService> for AppState {
    fn as_ref(&self) -> &RegistrationService {
        &self.registration
    }
}

impl AsRef<SettingsService> for AppState {
    fn as_ref(&self) -> &SettingsService {
        &self.settings_flow
    }
}

impl AsRef<RecoveryService> for AppState {
    fn as_ref(&self) -> &RecoveryService {
        &self.recovery
    }
}
