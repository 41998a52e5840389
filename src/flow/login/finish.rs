//! The end of a login, shared by every method: `require_verified_address` before any
//! session exists, the flow claimed once, the session, then the configured hooks.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::LoginService;
use crate::flow::core::hooks::{self, AfterHook};
use crate::flow::core::messages;
use crate::flow::core::{
    Done, DoneBody, Flow, FlowError, FlowKind, FlowType, Method, Outcome, Request, show_error,
};
use crate::identity::Identity;

impl LoginService {
    /// The login after-hooks for `method`, then the session.
    pub async fn finish(
        &self,
        mut flow: Flow,
        identity: Identity,
        method: Method,
        provider: Option<String>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let hooks = self.deps.hooks.login.for_method(method.as_str());
        if hooks::has(hooks, |h| matches!(h, AfterHook::RequireVerifiedAddress))
            && let Some(outcome) = self
                .require_verified(&mut flow, &identity, req, now)
                .await?
        {
            return Ok(outcome);
        }
        // The flow is claimed before a session exists: of two concurrent submissions of one
        // flow only the first gets a session (the update refuses a finished flow).
        let mut claimed = flow.clone();
        claimed.passed()?;
        if !self.deps.flows.update(&claimed, now).await? {
            flow.ui.clear_messages();
            flow.ui
                .messages
                .push(crate::text::verification_already_done_as(4010007));
            return Ok(Outcome::Show { flow, status: 400 });
        }
        let flow = claimed;
        let issued = self.deps.sessions.issue(
            identity.id,
            method.as_str(),
            provider,
            req.device.clone(),
            now,
        );
        let current = req.session.as_ref().map(|(s, _)| s.id);
        self.deps.sessions.persist(&issued, current).await?;
        let mut continue_with = Vec::new();
        let hook_ctx = if hooks.iter().any(|h| matches!(h, AfterHook::WebHook(_))) {
            json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url})
        } else {
            Value::Null
        };
        for hook in hooks {
            match hook {
                AfterHook::RevokeActiveSessions => {
                    self.deps
                        .store
                        .deactivate_identity_sessions(identity.id, Some(issued.session.id), now)
                        .await?;
                }
                AfterHook::WebHook(h) => {
                    if let Err(e) = h.run(hook_ctx.clone()).await {
                        tracing::warn!(error = %e, flow_id = %flow.id, "after-login web hook failed");
                    }
                }
                _ => {}
            }
        }
        if flow.flow_type == FlowType::Api {
            continue_with.push(hooks::set_session_token(issued.token.expose()));
        }
        metrics::counter!("verity_flows_total", "kind" => "login", "event" => "completed")
            .increment(1);
        let redirect = self.deps.return_url(&flow, method);
        Ok(Outcome::Done(Box::new(Done {
            flow,
            identity,
            session: Some(issued),
            continue_with,
            redirect,
            body: DoneBody::Session,
        })))
    }

    /// The `require_verified_address` hook, before any session exists. `Some` ends the login
    /// with a form error; the usual ending is `VerifiedAddressRequired` pointing at a
    /// verification flow: a new one whose code went out, or the one whose code still waits
    /// (so repeated sign-ins do not mail a code each, and the send limits hold).
    async fn require_verified(
        &self,
        flow: &mut Flow,
        identity: &Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Option<Outcome>, FlowError> {
        if identity.verifiable_addresses.is_empty() {
            return Err(FlowError::NoVerifiableAddress);
        }
        if identity.verifiable_addresses.iter().any(|a| a.verified) {
            return Ok(None);
        }
        if self
            .deps
            .settings
            .feature_flags
            .legacy_require_verified_login_error
        {
            flow.ui.messages.push(messages::address_not_verified());
            return show_error(&self.deps, flow.clone(), now).await.map(Some);
        }
        let Some(address) = identity
            .verifiable_addresses
            .iter()
            .find(|a| !a.value.is_empty())
        else {
            return Err(FlowError::NoVerifiableAddress);
        };
        let return_to = flow.return_to.clone();
        let started = self
            .verification
            .start_from(flow, address, return_to, req, now)
            .await?;
        // The continue_with item always carries the UI URL here (Kratos §7.3).
        let url = self
            .deps
            .ui_location(FlowKind::Verification, started.flow.id);
        Err(FlowError::VerifiedAddressRequired {
            continue_with: json!([hooks::show_verification_ui(
                started.flow.id,
                &address.value,
                Some(&url)
            )]),
            location: url,
        })
    }
}
