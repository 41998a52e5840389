//! Answering the challenge: the code (or link token) is consumed and the recovered address
//! verified in one transaction; then a privileged session is issued and a settings flow
//! opened where the person sets a new password. An identity that had never verified an
//! address loses its password and every session first: whoever registered it without
//! owning the address (a squatter) is locked out.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::RecoveryService;
use crate::flow::core::FlowService;
use crate::flow::core::hooks::{self, AfterHook};
use crate::flow::core::ui::csrf_node;
use crate::flow::core::{
    Done, DoneBody, Flow, FlowError, FlowKind, Method, NewFlow, Outcome, Replacement, Request,
};
use crate::identity::{Identity, IdentityState};
use crate::persistence::challenges::CodeUse;
use crate::strategy::code::{self, CodeFlow, Proved};
use crate::text;

impl RecoveryService {
    /// The flow as it is saved when its challenge is answered: `passed_challenge`, bound to
    /// the browser that finished it.
    fn passed_flow(&self, flow: &Flow, req: &Request) -> Result<Flow, FlowError> {
        let mut success = flow.clone();
        success.passed()?;
        success.csrf_token = req.csrf_for(flow.flow_type, &flow.csrf_token);
        success.ui.nodes = Self::masked(&success)
            .map(|t| vec![csrf_node(&t)])
            .unwrap_or_default();
        success.ui.messages.clear();
        Ok(success)
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
        // Read before the code is used: whether the identity had proved an address.
        let subject = self.deps.store.recovery_subject(flow.id).await?;
        let success = self.passed_flow(&flow, req)?;
        let ends = code::CodeEndings {
            success: &success,
            wrong: || code::wrong_code(&flow, text::recovery_code_invalid()),
            expired: |at| text::recovery_expired(at, now),
        };
        match code::check_code(&self.deps, &flow, submitted, ends, req, now).await? {
            Ok(Proved {
                identity_id: Some(id),
                ..
            }) => {
                let proven = flow.is_unbound() || subject.is_some_and(|s| s.any_verified != 0);
                self.recovered(success, id, proven, Method::Code, req, now)
                    .await
            }
            Ok(_) => Err(FlowError::unexpected("a recovery code names no identity")),
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
            return self
                .link_refused(&flow, req, text::recovery_token_invalid(), now)
                .await;
        }
        let subject = self.deps.store.recovery_subject(flow.id).await?;
        let success = self.passed_flow(&flow, req)?;
        let result =
            code::check(&self.deps, &flow, Method::Link, token, &success, req, now).await?;
        match result {
            CodeUse::Verified {
                identity_id: Some(id),
                ..
            } => {
                let proven = flow.is_unbound() || subject.is_some_and(|s| s.any_verified != 0);
                self.recovered(success, id, proven, Method::Link, req, now)
                    .await
            }
            CodeUse::Expired { expired_at } => {
                let message = text::recovery_expired(expired_at, now);
                self.link_refused(&flow, req, message, now).await
            }
            _ => {
                let message = text::recovery_token_invalid();
                self.link_refused(&flow, req, message, now).await
            }
        }
    }

    /// A link that does not recover: a new flow showing why, as a redirect.
    async fn link_refused(
        &self,
        flow: &Flow,
        req: &Request,
        message: text::Text,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let new = self.renew(flow, req, message, now).await?;
        Ok(Outcome::LinkRedirect { flow: new })
    }

    /// The challenge passed for `identity_id`: the squatter's clean-up where it applies, the
    /// privileged session, the after-recovery hooks and the settings flow.
    async fn recovered(
        &self,
        flow: Flow,
        identity_id: uuid::Uuid,
        proven: bool,
        method: Method,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let Some(mut identity) = self.deps.store.get_identity(identity_id).await? else {
            return Err(FlowError::unexpected("the recovered identity is gone"));
        };
        if identity.state != IdentityState::Active {
            let message = crate::flow::core::messages::account_disabled();
            return self
                .replace(&flow, req, message, Replacement::Retry, now)
                .await;
        }
        if !proven {
            self.deps
                .store
                .strip_unproven_identity(identity.id, now)
                .await?;
            identity.credentials.retain(|c| c.kind != "password");
            tracing::info!(identity_id = %identity.id, flow_id = %flow.id,
                "recovery of an identity that never verified an address: its password and sessions were removed");
        }
        let kind = match method {
            Method::Link => "link_recovery",
            _ => "code_recovery",
        };
        let issued = self
            .deps
            .sessions
            .issue(identity.id, kind, None, req.device.clone(), now);
        let current = req.session.as_ref().map(|(s, _)| s.id);
        self.deps.sessions.persist(&issued, current).await?;
        let actor = req.actor(
            flow.id,
            Some(identity.id),
            flow.challenge.sent_to.as_deref(),
        );
        crate::audit::event(crate::audit::AuditEvent::RecoveryCompleted(actor));
        metrics::counter!("verity_flows_total", "kind" => "recovery", "event" => "completed")
            .increment(1);
        self.run_hooks(&flow, &identity, issued.session.id, now)
            .await?;
        let settings = self.settings_flow(&flow, &identity, req, now).await?;
        let url = self.deps.ui_location(FlowKind::Settings, settings.id);
        let mut continue_with = Vec::new();
        if flow.flow_type == crate::flow::core::FlowType::Api {
            continue_with.push(hooks::set_session_token(issued.token.expose()));
        }
        continue_with.push(json!({
            "action": "show_settings_ui",
            "flow": {"id": settings.id, "url": url},
        }));
        Ok(Outcome::Done(Box::new(Done {
            flow,
            identity,
            session: Some(issued),
            continue_with,
            redirect: url,
            body: DoneBody::Flow,
        })))
    }

    /// `selfservice.flows.recovery.after.hooks`: `revoke_active_sessions` (all but the new
    /// session) and web hooks (a failure is logged; the recovery stands).
    async fn run_hooks(
        &self,
        flow: &Flow,
        identity: &Identity,
        keep: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let list = self.deps.hooks.recovery.for_method("password");
        let ctx = json!({"flow": flow.to_json(), "identity": serde_json::to_value(identity).unwrap_or(Value::Null), "request_url": flow.request_url});
        for hook in list {
            match hook {
                AfterHook::RevokeActiveSessions => {
                    self.deps
                        .store
                        .deactivate_identity_sessions(identity.id, Some(keep), now)
                        .await?;
                }
                AfterHook::WebHook(h) => {
                    if let Err(e) = h.run(ctx.clone()).await {
                        tracing::warn!(error = %e, flow_id = %flow.id, "after-recovery web hook failed");
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The settings flow the person continues in, bound to the same browser, showing how
    /// long the session stays privileged (1060001).
    async fn settings_flow(
        &self,
        flow: &Flow,
        identity: &Identity,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Flow, FlowError> {
        let csrf = req.csrf_for(flow.flow_type, &flow.csrf_token);
        let origin = NewFlow::after(FlowKind::Settings, flow, csrf);
        let max_age = self
            .deps
            .settings
            .selfservice
            .flows
            .settings
            .privileged_session_max_age
            .map_or(chrono::Duration::minutes(15), |d| d.chrono());
        let message = text::recovery_successful(now + max_age, now);
        self.settings
            .start_for(origin, identity, message, now)
            .await
    }
}
