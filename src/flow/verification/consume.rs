//! Using a code or a link token: the challenge is consumed and the address verified in one
//! transaction, then the after-verification web hooks run (outside it: they do network I/O).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::service::SubmitContext;
use super::submit::{HMAC_PURPOSE, secret_input};
use super::{
    Method, Outcome, State, VerificationError, VerificationFlow, VerificationService, success_ui,
};
use crate::flow::FlowType;
use crate::persistence::verification::{CodeUse, UseCode};
use crate::ratelimit::Rule;
use crate::schema::Via;
use crate::text;

impl VerificationService {
    /// The flow as it is saved when its challenge is answered: `passed_challenge`, a GET form
    /// to the continue URL, and bound to the browser that finished it, so that browser's UI
    /// can read it (Kratos's GetCSRFToken; #1547 for links opened elsewhere).
    fn passed_flow(
        &self,
        flow: &VerificationFlow,
        ctx: &SubmitContext,
        method: Method,
        via: Via,
    ) -> Result<VerificationFlow, VerificationError> {
        let mut success = flow.clone();
        success.passed().map_err(|e| {
            VerificationError::Store(crate::persistence::StoreError::Corrupt(e.to_string()))
        })?;
        success.csrf_token = ctx.csrf_for(flow);
        let masked =
            (flow.kind == FlowType::Browser).then(|| crate::csrf::mask(&success.csrf_token));
        success.ui = success_ui(&self.continue_url(flow), method, masked.as_deref(), via);
        Ok(success)
    }

    /// Runs the after-verification web hooks with `{flow, identity, request_url}`. A failing
    /// hook replaces the flow with one that shows the error (Kratos §3.3); the address stays
    /// verified, since that was committed before any network call.
    async fn after_verification(
        &self,
        success: VerificationFlow,
        address_id: Option<uuid::Uuid>,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
        done: impl FnOnce(VerificationFlow) -> Outcome,
    ) -> Result<Outcome, VerificationError> {
        if self.after_hooks.is_empty() {
            return Ok(done(success));
        }
        let identity = match address_id {
            Some(a) => self.store.identity_of_address(a).await?,
            None => None,
        };
        let identity_json = identity.map(|i| serde_json::to_value(&i).unwrap_or(Value::Null));
        let hook_ctx = json!({
            "flow": success.to_json(),
            "identity": identity_json,
            "request_url": success.request_url,
        });
        for hook in self.after_hooks.iter() {
            if let Err(e) = hook.run(hook_ctx.clone()).await {
                tracing::warn!(error = %e, flow_id = %success.id, "after-verification hook failed");
                let new = self
                    .renew(&success, ctx, text::reason(e.to_string()), now)
                    .await?;
                return Ok(Outcome::Replaced { new });
            }
        }
        Ok(done(success))
    }

    pub(super) async fn use_code(
        &self,
        flow: VerificationFlow,
        code: &str,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        if let Some(client) = &ctx.client {
            self.limit(Rule::SubmitPerIp, client, now).await?;
        }
        // Failures count per address across flows and resends; once the budget
        // is spent no code for the address is compared, right or wrong.
        if let Some(address) = flow_address(&flow)
            && let Some(limiter) = &self.limiter
            && let Err(limited) = limiter
                .check(Rule::CodeFailuresPerAddressDay, &address, now)
                .await?
        {
            return Err(VerificationError::RateLimited(limited.retry_after));
        }
        let max_submissions = i32::try_from(
            self.settings
                .selfservice
                .methods
                .code
                .config
                .max_submissions,
        )
        .unwrap_or(i32::MAX);
        let code = code.trim();
        let candidates = self
            .keyring
            .candidates_hex(HMAC_PURPOSE, &secret_input(flow.id, code));
        let via = flow.via.unwrap_or(Via::Email);
        let success = self.passed_flow(&flow, ctx, Method::Code, via)?;
        let mut wrong = flow.clone();
        wrong.ui.messages = vec![text::verification_code_invalid()];
        wrong.ui.set_value("code", json!(""));
        let result = self
            .store
            .use_verification_code(UseCode {
                flow_id: flow.id,
                method: Method::Code.as_str(),
                max_submissions,
                candidates: &candidates,
                on_success: &success,
                on_no_match: Some(&wrong),
                now,
            })
            .await?;
        match result {
            CodeUse::Verified { address_id, .. } => {
                self.after_verification(success, address_id, ctx, now, |flow| Outcome::Show {
                    flow,
                    status: 200,
                })
                .await
            }
            CodeUse::NoMatch => {
                if let Some(address) = flow_address(&flow)
                    && let Some(limiter) = &self.limiter
                {
                    // Counted here, enforced by the check above.
                    let _ = limiter
                        .hit(Rule::CodeFailuresPerAddressDay, &address, now)
                        .await?;
                }
                Self::outcome_show(wrong, 200)
            }
            CodeUse::Completed => Ok(Outcome::Completed {
                new: self
                    .renew(&flow, ctx, text::verification_already_done(), now)
                    .await?,
            }),
            CodeUse::TooManyAttempts => Ok(Outcome::Replaced {
                new: self
                    .renew(&flow, ctx, text::submitted_too_often(), now)
                    .await?,
            }),
            CodeUse::AlreadyUsed => Ok(Outcome::Replaced {
                new: self
                    .renew(&flow, ctx, text::code_already_used(), now)
                    .await?,
            }),
            CodeUse::Expired { expired_at } => {
                let new = self
                    .renew(&flow, ctx, text::verification_expired(expired_at, now), now)
                    .await?;
                Ok(Outcome::CodeExpired { new, expired_at })
            }
        }
    }

    pub(super) async fn use_link(
        &self,
        flow: VerificationFlow,
        token: &str,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        if flow.state == State::PassedChallenge {
            let new = self
                .renew(&flow, ctx, text::verification_token_invalid(), now)
                .await?;
            return Ok(Outcome::LinkRedirect { flow: new });
        }
        let candidates = self
            .keyring
            .candidates_hex(HMAC_PURPOSE, &secret_input(flow.id, token));
        let success = self.passed_flow(&flow, ctx, Method::Link, Via::Email)?;
        let result = self
            .store
            .use_verification_code(UseCode {
                flow_id: flow.id,
                method: Method::Link.as_str(),
                max_submissions: i32::try_from(
                    self.settings
                        .selfservice
                        .methods
                        .code
                        .config
                        .max_submissions,
                )
                .unwrap_or(i32::MAX),
                candidates: &candidates,
                on_success: &success,
                on_no_match: None,
                now,
            })
            .await?;
        match result {
            CodeUse::Verified { address_id, .. } => {
                self.after_verification(success, address_id, ctx, now, |flow| {
                    Outcome::LinkRedirect { flow }
                })
                .await
            }
            CodeUse::Expired { expired_at } => {
                let new = self
                    .renew(&flow, ctx, text::verification_expired(expired_at, now), now)
                    .await?;
                Ok(Outcome::LinkRedirect { flow: new })
            }
            _ => Ok(Outcome::LinkRedirect {
                flow: self
                    .renew(&flow, ctx, text::verification_token_invalid(), now)
                    .await?,
            }),
        }
    }
}

/// The address the flow last sent to (the Resend button's value).
fn flow_address(flow: &VerificationFlow) -> Option<String> {
    flow.ui
        .nodes
        .iter()
        .find(|n| {
            n.attributes.get("name").and_then(Value::as_str) == Some("email")
                && n.attributes.get("type").and_then(Value::as_str) == Some("submit")
        })
        .and_then(|n| n.attributes.get("value").and_then(Value::as_str))
        .map(str::to_owned)
}
