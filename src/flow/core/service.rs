//! What every flow kind implements, and the steps every kind runs the same way: creating,
//! reading and the submission prelude (expired → replaced, a browser driving an api flow
//! refused, CSRF checked, a finished flow answered, the per-IP limit), once for all kinds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::deps::FlowDeps;
use super::error::FlowError;
use super::messages;
use super::model::{Flow, FlowKind, FlowType, State};
use super::outcome::{Outcome, Replacement};
use super::request::{ParseMethod, Request, Submission};
use crate::ratelimit::Rule;

/// How a kind's endpoints use the request's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionUse {
    /// Never looked up (verification): a session check costs queries.
    Ignored,
    /// Looked up, and the kind decides (login, registration, recovery).
    Optional,
    /// Needed (settings).
    Required,
}

/// The query of an init endpoint.
#[derive(Debug, Clone, Default)]
pub struct Init {
    pub flow_type: Option<FlowType>,
    pub request_url: String,
    pub return_to: Option<String>,
    /// Login: re-authenticate the signed-in identity.
    pub refresh: bool,
}

/// A flow kind: its module implements this, and the generic steps below and the generic
/// HTTP handlers do the rest.
#[allow(async_fn_in_trait)]
pub trait FlowService {
    /// The submission type of the methods this kind offers.
    type Method: ParseMethod;
    const KIND: FlowKind;
    const SESSION: SessionUse;

    fn deps(&self) -> &FlowDeps;

    /// A form error on the flow: its messages replaced by `message` (on `node` if given), the
    /// flow saved and shown with 400.
    async fn form_error(
        &self,
        mut flow: Flow,
        node: Option<&str>,
        message: crate::text::Text,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        flow.ui.clear_messages();
        flow.ui.add_message(node, message);
        show_error(self.deps(), flow, now).await
    }

    /// A new flow (not yet stored), after the kind's own preconditions (enabled, session).
    async fn create(
        &self,
        init: &Init,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError>;

    /// A fresh flow (not yet stored) that replaces `old`, which expired.
    fn renewal(&self, old: &Flow, req: &Request, now: DateTime<Utc>) -> Result<Flow, FlowError>;

    /// [`Self::renewal`] showing `message`, stored: the new flow that replaces one used up,
    /// finished or expired while it was being answered.
    async fn renew(
        &self,
        old: &Flow,
        req: &Request,
        message: crate::text::Text,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        let mut new = self.renewal(old, req, now)?;
        new.ui.messages = vec![message];
        self.deps().flows.insert(&new).await?;
        Ok(new)
    }

    /// [`Self::renew`] as an outcome.
    async fn replace(
        &self,
        old: &Flow,
        req: &Request,
        message: crate::text::Text,
        why: Replacement,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let new = self.renew(old, req, message, now).await?;
        Ok(Outcome::Replaced { new, why })
    }

    /// What a submission to a flow that passed its challenge answers.
    async fn on_finished(
        &self,
        flow: Flow,
        sub: &Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError>;

    /// The per-IP limit every submission of this kind counts against, if one.
    fn submit_rule(&self) -> Option<Rule> {
        Some(Rule::SubmitPerIp)
    }

    /// Whether the request may submit to a flow of this kind at all, before the flow is read
    /// (registration: not while signed in).
    fn before_submit(&self, _id: Uuid, _req: &Request) -> Result<(), FlowError> {
        Ok(())
    }

    /// Whether the kind serves reads at all (verification: not when it is disabled).
    fn check_available(&self) -> Result<(), FlowError> {
        Ok(())
    }

    /// Whether the submission answers a challenge (a code): knowing it proves possession, so
    /// an api flow accepts it from a browser (the emailed link of an api flow opens in one),
    /// and a browser flow asks only for the browser's own double-submitted CSRF token, not for
    /// the flow's binding (a link opened on another device moves the flow there, yet the code
    /// may be typed into the first browser). A cross-site post carries no matching token and
    /// is refused either way.
    fn is_answer(&self, _sub: &Submission<Self::Method>) -> bool {
        false
    }

    /// Whether the request may see or drive `flow` (settings: only its own identity).
    fn authorize(&self, _flow: &Flow, _req: &Request) -> Result<(), FlowError> {
        Ok(())
    }

    /// The method's logic, after the prelude.
    async fn submit(
        &self,
        flow: Flow,
        sub: Submission<Self::Method>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError>;
}

/// Creates and stores a new flow of `S`'s kind.
pub async fn create<S: FlowService>(
    svc: &S,
    init: &Init,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Flow, FlowError> {
    let flow = svc.create(init, req, now).await?;
    svc.deps().flows.insert(&flow).await?;
    metrics::counter!("verity_flows_total", "kind" => S::KIND.as_str(), "event" => "created")
        .increment(1);
    Ok(flow)
}

/// `GET /self-service/<kind>/flows?id=`: a browser flow only for the browser that owns it,
/// an expired flow is 410.
pub async fn read<S: FlowService>(
    svc: &S,
    id: Uuid,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Flow, FlowError> {
    svc.check_available()?;
    let flow = svc.deps().flows.get(S::KIND, id).await?;
    svc.authorize(&flow, req)?;
    if flow.flow_type == FlowType::Browser
        && !flow.is_unbound()
        && !req
            .csrf_cookie
            .as_deref()
            .is_some_and(|c| crate::csrf::verify(&flow.csrf_token, c))
    {
        return Err(FlowError::Csrf(
            "the CSRF cookie is missing or does not belong to this flow",
        ));
    }
    if flow.is_expired(now) {
        return Err(FlowError::Expired(Box::new(flow)));
    }
    Ok(flow)
}

/// A failed submission, with the type of its flow once that is known: an api flow's
/// failures are always answered as JSON.
#[derive(Debug)]
pub struct Failure {
    pub error: FlowError,
    pub flow_type: Option<FlowType>,
}

impl From<FlowError> for Failure {
    fn from(error: FlowError) -> Self {
        Self {
            error,
            flow_type: None,
        }
    }
}

/// `POST /self-service/<kind>?flow=`: the prelude, then the kind's logic.
pub async fn submit<S: FlowService>(
    svc: &S,
    id: Uuid,
    sub: Submission<S::Method>,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Outcome, Failure> {
    svc.before_submit(id, req)?;
    let flow = svc.deps().flows.get(S::KIND, id).await?;
    let flow_type = Some(flow.flow_type);
    submit_loaded(svc, flow, sub, req, now)
        .await
        .map_err(|error| Failure { error, flow_type })
}

async fn submit_loaded<S: FlowService>(
    svc: &S,
    mut flow: Flow,
    sub: Submission<S::Method>,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    svc.authorize(&flow, req)?;
    flow.transient_payload = sub.transient_payload.clone();
    if flow.is_expired(now) {
        let mut new = svc.renewal(&flow, req, now)?;
        new.ui.messages.push(messages::flow_expired(
            S::KIND.expired_message_id(),
            S::KIND.as_str(),
            flow.expires_at,
            now,
        ));
        svc.deps().flows.insert(&new).await?;
        metrics::counter!("verity_flows_total", "kind" => S::KIND.as_str(), "event" => "expired")
            .increment(1);
        let why = Replacement::FlowExpired {
            expired_at: flow.expires_at,
        };
        return Ok(Outcome::Replaced { new, why });
    }
    if flow.state == State::PassedChallenge {
        return svc.on_finished(flow, &sub, req, now).await;
    }
    if let Err(super::request::MethodError::Malformed(reason)) = &sub.method {
        // Kratos decodes the body before its CSRF check; a decoder error is a form error.
        flow.ui.clear_messages();
        flow.ui
            .add_message(None, crate::text::reason(reason.clone()));
        return show_error(svc.deps(), flow, now).await;
    }
    if !req.is_get {
        let answer = svc.is_answer(&sub);
        if !answer
            && let Some(shown) = refuse_browser_on_api(svc.deps(), &mut flow, req, now).await?
        {
            return Ok(shown);
        }
        check_csrf(&flow, req, sub.csrf_token.as_deref(), !answer)?;
    }
    if let Some(rule) = svc.submit_rule() {
        enforce(&svc.deps().limiter, rule, &req.client, now).await?;
    }
    svc.submit(flow, sub, req, now).await
}

/// Kratos's EnsureCSRF for api flows: they carry no token, so a browser must not drive them.
/// The flow then shows Kratos's 4000001 reason (400).
async fn refuse_browser_on_api(
    deps: &FlowDeps,
    flow: &mut Flow,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>, FlowError> {
    let (FlowType::Api, Some(signal)) = (flow.flow_type, req.browser_signal) else {
        return Ok(None);
    };
    flow.ui.clear_messages();
    flow.ui.messages.push(crate::text::reason(signal.reason()));
    deps.flows.update(flow, now).await?;
    Ok(Some(Outcome::Show {
        flow: flow.clone(),
        status: 400,
    }))
}

/// A browser flow's state-changing request needs the CSRF cookie, the form's token matching
/// it, and (when `bound`) the cookie matching the flow: a cross-site post has neither.
pub fn check_csrf(
    flow: &Flow,
    req: &Request,
    submitted: Option<&str>,
    bound: bool,
) -> Result<(), FlowError> {
    if flow.flow_type != FlowType::Browser || flow.is_unbound() {
        return Ok(());
    }
    let cookie = req
        .csrf_cookie
        .as_deref()
        .ok_or(FlowError::Csrf("the CSRF cookie is missing"))?;
    let submitted = submitted.ok_or(FlowError::Csrf("the csrf_token field is missing"))?;
    if !crate::csrf::verify(cookie, submitted)
        || (bound && !crate::csrf::verify(&flow.csrf_token, cookie))
    {
        return Err(FlowError::Csrf("the CSRF token does not match"));
    }
    Ok(())
}

/// A form error: the flow saved with its messages, shown with 400.
pub async fn show_error(
    deps: &FlowDeps,
    flow: Flow,
    now: DateTime<Utc>,
) -> Result<Outcome, FlowError> {
    deps.flows.update(&flow, now).await?;
    Ok(Outcome::Show { flow, status: 400 })
}

/// Counts one hit of `rule` for `subject`; over the limit is `RateLimited` (429).
pub async fn enforce(
    limiter: &crate::ratelimit::RateLimiter,
    rule: Rule,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<(), FlowError> {
    limiter
        .hit(rule, subject, now)
        .await?
        .map_err(|l| FlowError::RateLimited(l.retry_after))
}

/// The answer of a sign-in or sign-up flow submitted again after it finished: Kratos's
/// "already completed" under the kind's id (4010007, 4040002), 400, nothing stored.
pub fn already_finished(mut flow: Flow, message_id: u32) -> Outcome {
    flow.ui.clear_messages();
    flow.ui
        .messages
        .push(crate::text::verification_already_done_as(message_id));
    Outcome::Show { flow, status: 400 }
}
