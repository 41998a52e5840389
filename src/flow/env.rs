//! What login, registration and settings share: URLs, return_to checks, CSRF, flow creation,
//! and the errors and outcomes the HTTP layer turns into responses.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use super::FlowType;
use super::form::{FlowKind, FormFlow};
use super::return_to::{self, ReturnToForbidden};
use super::ui::{Ui, csrf_node};
use super::verification::{SubmitContext, VerificationError};
use crate::config::{GenericFlowConfig, Settings};
use crate::courier::CourierError;
use crate::hash::HashError;
use crate::identity::Identity;
use crate::persistence::{Store, StoreError};
use crate::session::Issued;

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("{0}")]
    Disabled(&'static str),
    #[error("the flow does not exist")]
    NotFound,
    #[error(transparent)]
    ReturnTo(#[from] ReturnToForbidden),
    #[error("the CSRF token is missing or does not match: {0}")]
    Csrf(&'static str),
    #[error("too many requests")]
    RateLimited(std::time::Duration),
    #[error("the password hasher is busy")]
    Overloaded,
    #[error("a session is already available")]
    SessionAlreadyAvailable,
    #[error("no active session")]
    NoSession,
    #[error("the flow belongs to another identity")]
    IdentityMismatch,
    #[error("a recent login is required")]
    RefreshRequired { login_url: String },
    #[error("the identity has no verified address")]
    VerifiedAddressRequired {
        verification_flow: Uuid,
        continue_with: Value,
        location: String,
    },
    #[error(
        "A misconfiguration prevents login. Expected to find a verification address but this identity does not have one assigned."
    )]
    NoVerifiableAddress,
    #[error("a web hook refused the request: {0}")]
    Hook(String),
    /// The browser must go to another site (a social sign-in provider): 303 for form posts,
    /// 422 `browser_location_change_required` for SPAs.
    #[error("the browser must be redirected")]
    BrowserLocationChange(String),
    #[error(transparent)]
    Verification(#[from] VerificationError),
    #[error(transparent)]
    Courier(#[from] CourierError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HashError> for FormError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Overloaded,
            other => Self::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// What a submission ends in.
#[derive(Debug)]
pub enum FormOutcome {
    /// The flow with its messages: 200/400 JSON, or a redirect to the UI for browsers.
    Show { flow: FormFlow, status: u16 },
    /// The flow had expired; `new` replaces it (JSON: 410 with `use_flow_id`).
    Expired {
        new: FormFlow,
        expired_at: DateTime<Utc>,
    },
    /// Completed: the identity, maybe a new session, `continue_with` items and where a
    /// browser goes next.
    Done(Box<Done>),
}

#[derive(Debug)]
pub struct Done {
    pub flow: FormFlow,
    pub identity: Identity,
    pub session: Option<Issued>,
    /// A browser session the new one replaces (its cookie is overwritten).
    pub continue_with: Vec<Value>,
    pub redirect: String,
}

#[derive(Clone, Debug)]
pub struct FlowEnv {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub public: Url,
    allowed_return: Vec<Url>,
}

impl FlowEnv {
    pub fn new(store: Store, settings: Arc<Settings>, public: Url) -> Self {
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
            settings,
            public,
            allowed_return,
        }
    }

    pub fn cfg(&self, kind: FlowKind) -> &GenericFlowConfig {
        let flows = &self.settings.selfservice.flows;
        match kind {
            FlowKind::Login => &flows.login,
            FlowKind::Registration => &flows.registration,
            FlowKind::Settings => &flows.settings,
        }
    }

    /// The flow's UI: the configured `ui_url`, else the built-in page.
    pub fn ui_url(&self, kind: FlowKind) -> String {
        self.cfg(kind)
            .ui_url
            .clone()
            .unwrap_or_else(|| format!("{}ui/{}", self.public, kind.as_str()))
    }

    pub fn ui_location(&self, kind: FlowKind, id: Uuid) -> String {
        format!("{}?flow={id}", self.ui_url(kind))
    }

    pub fn action(&self, kind: FlowKind, id: Uuid) -> String {
        format!("{}self-service/{}?flow={id}", self.public, kind.as_str())
    }

    pub fn check_return_to(&self, raw: Option<&str>) -> Result<Option<String>, FormError> {
        match raw.filter(|r| !r.is_empty()) {
            Some(r) => Ok(Some(return_to::check(r, &self.allowed_return)?.to_string())),
            None => Ok(None),
        }
    }

    /// Where a browser goes after `kind` succeeds: return_to, the method's then the flow's
    /// `after.default_browser_return_url`, then the global default.
    pub fn return_url(&self, kind: FlowKind, flow: &FormFlow, method: &str) -> String {
        let after = &self.cfg(kind).after;
        let per_method = match method {
            "password" => after.password.as_ref(),
            "oidc" => after.oidc.as_ref(),
            "profile" => after.profile.as_ref(),
            _ => None,
        }
        .and_then(|m| m.default_browser_return_url.clone());
        flow.return_to
            .clone()
            .or(per_method)
            .or_else(|| after.default_browser_return_url.clone())
            .unwrap_or_else(|| self.settings.selfservice.default_browser_return_url.clone())
    }

    /// A new flow in its first state with only the CSRF node (browser flows) in its UI; the
    /// caller adds the method nodes.
    #[allow(clippy::too_many_arguments)]
    pub fn new_flow(
        &self,
        kind: FlowKind,
        flow_type: FlowType,
        request_url: String,
        return_to: Option<String>,
        csrf: String,
        state: &str,
        now: DateTime<Utc>,
    ) -> FormFlow {
        let id = Uuid::new_v4();
        let mut nodes = Vec::new();
        if flow_type == FlowType::Browser {
            nodes.push(csrf_node(&crate::csrf::mask(&csrf)));
        }
        FormFlow {
            id,
            kind,
            flow_type,
            state: state.into(),
            request_url,
            return_to,
            csrf_token: csrf,
            ui: Ui {
                action: self.action(kind, id),
                method: "POST".into(),
                nodes,
                messages: Vec::new(),
            },
            identity_id: None,
            refresh: false,
            internal_context: json!({}),
            issued_at: now,
            expires_at: now + self.cfg(kind).lifespan.chrono(),
            updated_at: now,
            transient_payload: None,
        }
    }

    pub async fn get(&self, kind: FlowKind, id: Uuid) -> Result<FormFlow, FormError> {
        self.store
            .get_form_flow(kind, id)
            .await?
            .ok_or(FormError::NotFound)
    }

    /// Kratos's CSRF rules for a submission: a browser flow needs the cookie and the form's
    /// token to match the flow; an api flow must not come from a browser. `Err(Some(text))`
    /// is a form error for the api case.
    pub fn check_csrf(
        &self,
        flow: &FormFlow,
        ctx: &SubmitContext,
        submitted: Option<&str>,
    ) -> Result<Option<crate::text::Text>, FormError> {
        match (flow.flow_type, ctx.browser_signal) {
            (FlowType::Browser, _) => {
                let cookie = ctx
                    .csrf_cookie
                    .as_deref()
                    .ok_or(FormError::Csrf("the CSRF cookie is missing"))?;
                let submitted =
                    submitted.ok_or(FormError::Csrf("the csrf_token field is missing"))?;
                if !crate::csrf::verify(cookie, submitted)
                    || !crate::csrf::verify(&flow.csrf_token, cookie)
                {
                    return Err(FormError::Csrf("the CSRF token does not match"));
                }
                Ok(None)
            }
            (FlowType::Api, Some(signal)) => Ok(Some(crate::text::reason(signal.reason()))),
            (FlowType::Api, None) => Ok(None),
        }
    }

    /// Per-IP limit on form submissions (login uses its own rules).
    pub async fn limit(
        &self,
        limiter: &crate::ratelimit::RateLimiter,
        rule: crate::ratelimit::Rule,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<(), FormError> {
        match limiter.hit(rule, subject, now).await? {
            Ok(()) => Ok(()),
            Err(limited) => Err(FormError::RateLimited(limited.retry_after)),
        }
    }
}

impl FlowEnv {
    /// The CSRF token a replacement flow is bound to: the requesting browser's, else the old
    /// flow's (api flows have none).
    pub fn renewal_csrf(old: &FormFlow, ctx: &SubmitContext) -> String {
        ctx.csrf_cookie
            .clone()
            .unwrap_or_else(|| old.csrf_token.clone())
    }

    /// Stores `new`, built by the caller for its kind, in place of the expired `old`, with
    /// the kind's expiry message (4010001, 4040001, 4050001).
    pub async fn replace_expired(
        &self,
        old: &FormFlow,
        mut new: FormFlow,
        now: DateTime<Utc>,
    ) -> Result<FormOutcome, FormError> {
        let id = match old.kind {
            FlowKind::Login => 4010001,
            FlowKind::Registration => 4040001,
            FlowKind::Settings => 4050001,
        };
        new.ui.messages.push(super::messages::flow_expired(
            id,
            old.kind.as_str(),
            old.expires_at,
            now,
        ));
        self.store.insert_form_flow(&new).await?;
        Ok(FormOutcome::Expired {
            new,
            expired_at: old.expires_at,
        })
    }

    /// [`Self::check_csrf`] for a submission: `true` when an api flow was driven by a
    /// browser, in which case the flow now carries the form error to show.
    pub fn refuse_browser_on_api(
        &self,
        flow: &mut FormFlow,
        ctx: &SubmitContext,
        submitted: Option<&str>,
    ) -> Result<bool, FormError> {
        match self.check_csrf(flow, ctx, submitted)? {
            Some(text) => {
                clear_messages(&mut flow.ui);
                flow.ui.messages.push(text);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Drops the messages of an earlier submission before a new error is added.
pub fn clear_messages(ui: &mut Ui) {
    ui.messages.clear();
    for node in &mut ui.nodes {
        node.messages.clear();
    }
}
