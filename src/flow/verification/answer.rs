//! Answering the challenge: a code or link token is consumed and the address verified in
//! one transaction, then the after-verification web hooks run (outside it: they do network
//! I/O).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::VerificationService;
use crate::flow::core::FlowService;
use crate::flow::core::{Flow, FlowError, FlowType, Method, Outcome, Replacement, Request};
use crate::persistence::challenges::CodeUse;
use crate::schema::Via;
use crate::strategy::code::{self, CodeFlow, nodes};
use crate::text;

impl VerificationService {
    /// The flow as it is saved when its challenge is answered: `passed_challenge`, a GET form
    /// to the continue URL, and bound to the browser that finished it, so that browser's UI
    /// can read it (Kratos's GetCSRFToken; #1547 for links opened elsewhere).
    fn passed_flow(&self, flow: &Flow, req: &Request, method: Method) -> Result<Flow, FlowError> {
        let mut success = flow.clone();
        success.passed()?;
        success.csrf_token = req.csrf_for(flow.flow_type, &flow.csrf_token);
        let masked =
            (flow.flow_type == FlowType::Browser).then(|| crate::csrf::mask(&success.csrf_token));
        let via = flow.challenge.via.unwrap_or(Via::Email);
        success.ui = nodes::success_ui(&self.continue_url(flow), method, masked.as_deref(), via);
        Ok(success)
    }

    /// Opening the emailed link fills the form in; it never consumes the code. The browser
    /// that opened it may not be the one that started the flow, so the flow is bound to this
    /// browser's CSRF token from now on (Kratos's handleLinkClick).
    pub(super) async fn prefill(
        &self,
        mut flow: Flow,
        code: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        flow.ui.set_value("code", json!(code));
        if flow.flow_type == FlowType::Browser {
            flow.csrf_token = req.csrf_for(flow.flow_type, &flow.csrf_token);
            flow.ui
                .set_value("csrf_token", json!(crate::csrf::mask(&flow.csrf_token)));
        }
        self.deps.flows.update(&flow, now).await?;
        Ok(Outcome::LinkRedirect { flow })
    }

    pub(super) async fn use_code(
        &self,
        flow: Flow,
        submitted: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        if !code::well_formed(&self.deps, Method::Code, submitted) {
            let message = code::malformed_message(&self.deps);
            return self.form_error(flow, Some("code"), message, now).await;
        }
        let success = self.passed_flow(&flow, req, Method::Code)?;
        let ends = code::CodeEndings {
            success: &success,
            wrong: || {
                let mut wrong = code::wrong_code(&flow, text::verification_code_invalid());
                wrong.ui.set_value("code", json!(""));
                wrong
            },
            expired: |at| text::verification_expired(at, now),
        };
        match code::check_code(&self.deps, &flow, submitted, ends, req, now).await? {
            Ok(proved) => {
                let shown = |flow| Outcome::Show { flow, status: 200 };
                self.after_verification(success, proved.address_id, req, now, shown)
                    .await
            }
            Err(miss) => self.missed(&flow, miss, req, now).await,
        }
    }

    pub(super) async fn use_link(
        &self,
        flow: Flow,
        token: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        if !code::well_formed(&self.deps, Method::Link, token) {
            let new = self
                .renew(&flow, req, text::verification_token_invalid(), now)
                .await?;
            return Ok(Outcome::LinkRedirect { flow: new });
        }
        let success = self.passed_flow(&flow, req, Method::Link)?;
        let result =
            code::check(&self.deps, &flow, Method::Link, token, &success, req, now).await?;
        let message = match result {
            CodeUse::Verified { address_id, .. } => {
                let redirect = |flow| Outcome::LinkRedirect { flow };
                return self
                    .after_verification(success, address_id, req, now, redirect)
                    .await;
            }
            CodeUse::Expired { expired_at } => text::verification_expired(expired_at, now),
            _ => text::verification_token_invalid(),
        };
        let new = self.renew(&flow, req, message, now).await?;
        Ok(Outcome::LinkRedirect { flow: new })
    }

    /// Runs the after-verification web hooks with `{flow, identity, request_url}`. A failing
    /// hook replaces the flow with one that shows a fixed text (the hook's URL and error are
    /// logged, never shown); the address stays verified, since that was committed before any
    /// network call.
    async fn after_verification(
        &self,
        success: Flow,
        address_id: Option<uuid::Uuid>,
        req: &Request,
        now: DateTime<Utc>,
        done: impl FnOnce(Flow) -> Outcome,
    ) -> Result<Outcome, FlowError> {
        metrics::counter!("verity_flows_total", "kind" => "verification", "event" => "completed")
            .increment(1);
        let hooks = &self.deps.hooks.verification;
        if hooks.is_empty() {
            return Ok(done(success));
        }
        let identity = match address_id {
            Some(a) => self.deps.store.identity_of_address(a).await?,
            None => None,
        };
        let identity_json = identity.map(|i| serde_json::to_value(&i).unwrap_or(Value::Null));
        let hook_ctx = json!({
            "flow": success.to_json(),
            "identity": identity_json,
            "request_url": success.request_url,
        });
        for hook in hooks {
            if let Err(e) = hook.run(hook_ctx.clone()).await {
                tracing::warn!(error = %e, flow_id = %success.id, "after-verification hook failed");
                let message = crate::flow::core::messages::hook_failed();
                return self
                    .replace(&success, req, message, Replacement::Retry, now)
                    .await;
            }
        }
        Ok(done(success))
    }
}
