//! Creating and reading verification flows; the submission logic is in `submit.rs`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::{Method, Outcome, State, VerificationError, VerificationFlow, choose_method_ui};
use crate::config::{Settings, VerificationStrategy};
use crate::courier::Courier;
use crate::crypto::Keyring;
use crate::flow::FlowType;
use crate::flow::return_to;
use crate::persistence::Store;
use crate::text::Text;

/// A submission's fields (JSON or form body, merged with the query as Kratos does).
#[derive(Default, Deserialize)]
pub struct Submission {
    pub method: Option<String>,
    pub email: Option<String>,
    pub code: Option<String>,
    pub token: Option<String>,
    pub csrf_token: Option<String>,
    pub transient_payload: Option<Value>,
}

impl fmt::Debug for Submission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission")
            .field("method", &self.method)
            .field("has_email", &self.email.is_some())
            .field("has_code", &self.code.is_some())
            .field("has_token", &self.token.is_some())
            .finish()
    }
}

/// Request facts the flow logic needs (the HTTP layer extracts them).
#[derive(Debug, Clone, Default)]
pub struct SubmitContext {
    /// GET (a link opened from a message) rather than a form POST.
    pub is_get: bool,
    /// The unmasked token of the CSRF cookie, if the request carried a valid one.
    pub csrf_cookie: Option<String>,
    /// Rate-limit subject for the client (IP or /64).
    pub client: Option<String>,
    /// Set when the request looks like it comes from a browser (an `Origin` header, or
    /// cookies): such a request may not send messages from an api flow (Kratos's EnsureCSRF).
    pub browser_signal: Option<BrowserSignal>,
}

/// What gave a request away as a browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserSignal {
    Origin,
    Cookie,
}

impl BrowserSignal {
    /// Kratos's 400 reason, shown as message 4000001 on the flow.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Origin => {
                r#"The HTTP Request Header included the "Origin" key, indicating that this request was made as part of an AJAX request in a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation."#
            }
            Self::Cookie => {
                r#"The HTTP Request Header included the "Cookie" key, indicating that this request was made by a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation."#
            }
        }
    }
}

impl SubmitContext {
    /// The CSRF token for a flow that replaces or completes `flow`: the requesting browser's,
    /// which may not be the one that started it (a link opened elsewhere; Kratos regenerates
    /// the token there), else the flow's own. Api flows have none.
    pub(super) fn csrf_for(&self, flow: &VerificationFlow) -> String {
        match (&self.csrf_cookie, flow.kind) {
            (Some(token), FlowType::Browser) => token.clone(),
            _ => flow.csrf_token.clone(),
        }
    }
}

#[derive(Clone)]
pub struct VerificationService {
    pub(super) store: Store,
    pub(super) courier: Courier,
    pub(super) keyring: Keyring,
    pub(super) settings: std::sync::Arc<Settings>,
    pub(super) public: Url,
    pub(super) ui_url: String,
    pub(super) allowed_return: Vec<Url>,
    pub(super) limiter: Option<crate::ratelimit::RateLimiter>,
    /// `selfservice.flows.verification.after.hooks` (web hooks), run after success.
    pub(super) after_hooks: std::sync::Arc<Vec<crate::hooks::WebHook>>,
}

impl fmt::Debug for VerificationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationService")
    }
}

impl VerificationService {
    pub fn new(
        store: Store,
        courier: Courier,
        keyring: Keyring,
        settings: std::sync::Arc<Settings>,
        public: Url,
        limiter: Option<crate::ratelimit::RateLimiter>,
        after_hooks: Vec<crate::hooks::WebHook>,
    ) -> Self {
        let ui_url = settings
            .selfservice
            .flows
            .verification
            .ui_url
            .clone()
            .unwrap_or_else(|| format!("{public}ui/verification"));
        let mut allowed_return: Vec<Url> = settings
            .selfservice
            .allowed_return_urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect();
        allowed_return.extend(Url::parse(&settings.selfservice.default_browser_return_url).ok());
        allowed_return.push(public.clone());
        Self {
            store,
            courier,
            keyring,
            settings,
            public,
            ui_url,
            allowed_return,
            limiter,
            after_hooks: std::sync::Arc::new(after_hooks),
        }
    }

    pub(super) fn cfg(&self) -> &crate::config::VerificationFlowConfig {
        &self.settings.selfservice.flows.verification
    }

    pub(super) fn primary(&self) -> Method {
        match self.cfg().strategy {
            VerificationStrategy::Code => Method::Code,
            VerificationStrategy::Link => Method::Link,
        }
    }

    pub(super) fn method_enabled(&self, m: Method) -> bool {
        match m {
            Method::Code => self.settings.selfservice.methods.code.is_enabled(),
            Method::Link => self.settings.selfservice.methods.link.enabled,
        }
    }

    /// Phone numbers are accepted when an SMS channel is configured (or mail goes to the dev inbox).
    pub(super) fn phone_allowed(&self) -> bool {
        self.courier.can_deliver(crate::persistence::Channel::Sms)
    }

    /// Where browsers are sent to see the flow: `{ui_url}?flow=<id>`.
    pub fn ui_location(&self, id: Uuid) -> String {
        format!("{}?flow={id}", self.ui_url)
    }

    pub fn action(&self, id: Uuid) -> String {
        format!("{}self-service/verification?flow={id}", self.public)
    }

    pub fn public_url(&self) -> &Url {
        &self.public
    }

    pub fn enabled(&self) -> bool {
        self.cfg().enabled
    }

    /// A new flow in `choose_method`. `csrf` is the browser's token (empty for api flows).
    pub async fn create(
        &self,
        kind: FlowType,
        request_url: String,
        return_to: Option<&str>,
        csrf: String,
        now: DateTime<Utc>,
    ) -> Result<VerificationFlow, VerificationError> {
        if !self.enabled() {
            return Err(VerificationError::Disabled);
        }
        let method = self.primary();
        if !self.method_enabled(method) {
            return Err(VerificationError::StrategyDisabled(method.as_str()));
        }
        let return_to = match return_to.filter(|r| !r.is_empty()) {
            Some(r) => Some(return_to::check(r, &self.allowed_return)?.to_string()),
            None => None,
        };
        let flow = self.fresh(kind, request_url, return_to, csrf, Vec::new(), now);
        self.store.insert_verification_flow(&flow).await?;
        Ok(flow)
    }

    pub(super) fn fresh(
        &self,
        kind: FlowType,
        request_url: String,
        return_to: Option<String>,
        csrf: String,
        messages: Vec<Text>,
        now: DateTime<Utc>,
    ) -> VerificationFlow {
        let id = Uuid::new_v4();
        let method = self.primary();
        let masked = (kind == FlowType::Browser).then(|| crate::csrf::mask(&csrf));
        let mut ui = choose_method_ui(
            &self.action(id),
            method,
            masked.as_deref(),
            self.phone_allowed(),
        );
        ui.messages = messages;
        VerificationFlow {
            id,
            kind,
            state: State::ChooseMethod,
            active: Some(method),
            request_url,
            return_to,
            csrf_token: csrf,
            ui,
            submit_count: 0,
            send_count: 0,
            via: None,
            issued_at: now,
            expires_at: now + self.cfg().lifespan.chrono(),
            transient_payload: None,
        }
    }

    /// A new flow replacing `old` (same type, request URL and return_to), showing `message`,
    /// bound to the requesting browser's CSRF token.
    pub(super) async fn renew(
        &self,
        old: &VerificationFlow,
        ctx: &SubmitContext,
        message: Text,
        now: DateTime<Utc>,
    ) -> Result<VerificationFlow, VerificationError> {
        let flow = self.fresh(
            old.kind,
            old.request_url.clone(),
            old.return_to.clone(),
            ctx.csrf_for(old),
            vec![message],
            now,
        );
        self.store.insert_verification_flow(&flow).await?;
        Ok(flow)
    }

    pub async fn get(&self, id: Uuid) -> Result<VerificationFlow, VerificationError> {
        self.store
            .get_verification_flow(id)
            .await?
            .ok_or(VerificationError::NotFound)
    }

    /// Where "Continue" leads after success: the flow's return_to, else the configured defaults.
    pub(super) fn continue_url(&self, flow: &VerificationFlow) -> String {
        flow.return_to
            .clone()
            .or_else(|| self.cfg().after.default_browser_return_url.clone())
            .unwrap_or_else(|| self.settings.selfservice.default_browser_return_url.clone())
    }

    pub(super) fn outcome_show(
        flow: VerificationFlow,
        status: u16,
    ) -> Result<Outcome, VerificationError> {
        Ok(Outcome::Show { flow, status })
    }
}
