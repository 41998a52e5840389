//! What every flow service is built from: one shared set of dependencies, cloned cheaply,
//! and the URL and configuration lookups that depend only on a flow's kind.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::error::FlowError;
use super::hooks::FlowHooks;
use super::model::{Challenge, Flow, FlowKind, FlowType, State};
use super::record::Flows;
use super::return_to;
use super::ui::Ui;
use crate::config::{GenericFlowConfig, Settings};
use crate::courier::Courier;
use crate::crypto::Keyring;
use crate::delivery::Delivery;
use crate::hash::PasswordHasher;
use crate::identity::IdentityService;
use crate::oidc::Providers;
use crate::persistence::Store;
use crate::ratelimit::RateLimiter;
use crate::session::SessionService;

#[derive(Clone, Debug)]
pub struct FlowDeps {
    pub flows: Flows,
    pub store: Store,
    pub settings: Arc<Settings>,
    /// The public base URL (ends in `/`).
    pub public: Url,
    pub keyring: Keyring,
    pub courier: Courier,
    pub limiter: RateLimiter,
    pub delivery: Delivery,
    pub sessions: SessionService,
    pub identities: IdentityService,
    pub hasher: PasswordHasher,
    /// Social sign-in providers (empty when the method is off).
    pub oidc: Providers,
    pub hooks: Arc<FlowHooks>,
    allowed_return: Arc<Vec<Url>>,
}

/// The parts `FlowDeps::new` takes; every field is built once at start.
pub struct DepsParts {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub public: Url,
    pub keyring: Keyring,
    pub courier: Courier,
    pub limiter: RateLimiter,
    pub sessions: SessionService,
    pub identities: IdentityService,
    pub hasher: PasswordHasher,
    pub oidc: Providers,
    pub hooks: FlowHooks,
}

impl FlowDeps {
    pub fn new(p: DepsParts) -> Self {
        let s = &p.settings.selfservice;
        let mut allowed: Vec<Url> = s
            .allowed_return_urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect();
        allowed.extend(Url::parse(&s.default_browser_return_url).ok());
        allowed.push(p.public.clone());
        let delivery = Delivery::new(p.limiter.clone());
        Self {
            flows: Flows::new(p.store.clone()),
            store: p.store,
            settings: p.settings,
            public: p.public,
            keyring: p.keyring,
            courier: p.courier,
            limiter: p.limiter,
            delivery,
            sessions: p.sessions,
            identities: p.identities,
            hasher: p.hasher,
            oidc: p.oidc,
            hooks: Arc::new(p.hooks),
            allowed_return: Arc::new(allowed),
        }
    }

    /// The default identity schema (sign-up validates against it).
    pub fn default_schema(&self) -> Result<Arc<crate::schema::IdentitySchema>, FlowError> {
        self.identities
            .schemas()
            .default_schema()
            .cloned()
            .ok_or_else(|| FlowError::unexpected("no identity schema is configured"))
    }

    /// The generic configuration of a form flow kind (verification has its own type).
    pub fn cfg(&self, kind: FlowKind) -> &GenericFlowConfig {
        let flows = &self.settings.selfservice.flows;
        match kind {
            FlowKind::Login => &flows.login,
            FlowKind::Registration => &flows.registration,
            FlowKind::Settings => &flows.settings,
            FlowKind::Recovery | FlowKind::Verification => &flows.recovery,
        }
    }

    fn configured_ui_url(&self, kind: FlowKind) -> Option<&str> {
        match kind {
            FlowKind::Verification => self
                .settings
                .selfservice
                .flows
                .verification
                .ui_url
                .as_deref(),
            other => self.cfg(other).ui_url.as_deref(),
        }
    }

    /// The flow's UI: the configured `ui_url`, else the built-in page.
    pub fn ui_url(&self, kind: FlowKind) -> String {
        self.configured_ui_url(kind)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}ui/{}", self.public, kind.as_str()))
    }

    /// Where browsers see a flow: `{ui_url}?flow=<id>`.
    pub fn ui_location(&self, kind: FlowKind, id: Uuid) -> String {
        let ui = self.ui_url(kind);
        let sep = if ui.contains('?') { '&' } else { '?' };
        format!("{ui}{sep}flow={id}")
    }

    /// A browser flow's UI location; api flows have none.
    pub fn flow_ui_url(&self, flow: &Flow) -> Option<String> {
        (flow.flow_type == FlowType::Browser).then(|| self.ui_location(flow.kind, flow.id))
    }

    /// The form's action: `POST /self-service/<kind>?flow=<id>`.
    pub fn action(&self, kind: FlowKind, id: Uuid) -> String {
        format!("{}self-service/{}?flow={id}", self.public, kind.as_str())
    }

    /// `/self-service/<kind>/flows?id=`: the flow's JSON.
    pub fn flow_url(&self, kind: FlowKind, id: Uuid) -> String {
        format!(
            "{}self-service/{}/flows?id={id}",
            self.public,
            kind.as_str()
        )
    }

    /// `/self-service/<kind>/browser`, keeping where the user wanted to go afterwards.
    pub fn browser_init_url(&self, kind: FlowKind, return_to: Option<&str>) -> String {
        let mut url = format!("{}self-service/{}/browser", self.public, kind.as_str());
        if let Some(r) = return_to.filter(|r| !r.is_empty()) {
            url.push_str("?return_to=");
            url.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
        }
        url
    }

    pub fn check_return_to(&self, raw: Option<&str>) -> Result<Option<String>, FlowError> {
        match raw.filter(|r| !r.is_empty()) {
            Some(r) => Ok(Some(return_to::check(r, &self.allowed_return)?.to_string())),
            None => Ok(None),
        }
    }

    fn lifespan(&self, kind: FlowKind) -> chrono::Duration {
        match kind {
            FlowKind::Verification => self.settings.selfservice.flows.verification.lifespan,
            other => self.cfg(other).lifespan,
        }
        .chrono()
    }

    /// A new flow of `kind` in its first state, with an empty form posting to its action;
    /// the caller adds the method nodes.
    pub fn new_flow(&self, init: NewFlow, now: DateTime<Utc>) -> Flow {
        let id = Uuid::new_v4();
        Flow {
            id,
            kind: init.kind,
            flow_type: init.flow_type,
            state: State::initial(init.kind),
            request_url: init.request_url,
            return_to: init.return_to,
            csrf_token: match init.flow_type {
                FlowType::Browser => init.csrf,
                FlowType::Api => String::new(),
            },
            ui: Ui {
                action: self.action(init.kind, id),
                method: "POST".into(),
                nodes: Vec::new(),
                messages: Vec::new(),
            },
            issued_at: now,
            expires_at: now + self.lifespan(init.kind),
            updated_at: now,
            transient_payload: None,
            identity_id: None,
            refresh: false,
            internal_context: json!({}),
            active: None,
            challenge: Challenge::default(),
        }
    }
}

/// The header a new flow starts from.
#[derive(Debug, Clone)]
pub struct NewFlow {
    pub kind: FlowKind,
    pub flow_type: FlowType,
    pub request_url: String,
    pub return_to: Option<String>,
    /// The browser's unmasked CSRF token (ignored for api flows).
    pub csrf: String,
}

impl NewFlow {
    /// A flow of `kind` as an init endpoint asks for it, bound to the requesting browser.
    pub fn from_init(
        deps: &FlowDeps,
        kind: FlowKind,
        init: &super::Init,
        req: &super::Request,
    ) -> Result<Self, FlowError> {
        Ok(Self {
            kind,
            flow_type: init.flow_type.unwrap_or(FlowType::Browser),
            request_url: init.request_url.clone(),
            return_to: deps.check_return_to(init.return_to.as_deref())?,
            csrf: req.csrf_cookie.clone().unwrap_or_default(),
        })
    }

    /// A flow of `kind` that takes over from `old` for the requesting browser (which may not
    /// be the one `old` was bound to).
    pub fn renewing(kind: FlowKind, old: &Flow, req: &super::Request) -> Self {
        Self::after(kind, old, req.csrf_for(old.flow_type, &old.csrf_token))
    }

    /// A flow of `kind` that continues from `old` (same type, request URL and return_to),
    /// bound to `csrf`.
    pub fn after(kind: FlowKind, old: &Flow, csrf: String) -> Self {
        Self {
            kind,
            flow_type: old.flow_type,
            request_url: old.request_url.clone(),
            return_to: old.return_to.clone(),
            csrf,
        }
    }
}

impl FlowDeps {
    /// Where a browser goes after a flow of `kind` succeeds by `method`: the flow's
    /// return_to, the method's then the flow's `after.default_browser_return_url`, then the
    /// global default.
    pub fn return_url(&self, flow: &Flow, method: super::Method) -> String {
        let after = &self.cfg(flow.kind).after;
        let per_method = match method {
            super::Method::Password => after.password.as_ref(),
            super::Method::Oidc => after.oidc.as_ref(),
            super::Method::Profile => after.profile.as_ref(),
            _ => None,
        }
        .and_then(|m| m.default_browser_return_url.clone());
        flow.return_to
            .clone()
            .or(per_method)
            .or_else(|| after.default_browser_return_url.clone())
            .unwrap_or_else(|| self.settings.selfservice.default_browser_return_url.clone())
    }
}
