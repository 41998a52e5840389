//! Sending a recovery code or link. Every send passes the delivery choke point; an unknown
//! address gets the same answer, the same rows written and the same queries as a known one
//! (its challenge can never match), and with `notify_unknown_recipients` an email saying
//! no account uses the address.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::RecoveryService;
use crate::courier::TemplateKind;
use crate::delivery::{Admission, Recipient as To};
use crate::flow::core::FlowService;
use crate::flow::core::{Flow, FlowError, Method, Outcome, Replacement, Request};
use crate::identity::IdentityState;
use crate::persistence::recovery::RecoveryTarget;
use crate::persistence::{Channel, OutboxMessage};
use crate::schema::{Via, normalize_email};
use crate::strategy::code::{self, CodeFlow, Target, recovery_nodes};
use crate::strategy::link;
use crate::text;

impl RecoveryService {
    pub(super) async fn send(
        &self,
        mut flow: Flow,
        method: Method,
        raw: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        if req.session.is_some() {
            return Err(FlowError::SessionAlreadyAvailable);
        }
        let Ok(address) = normalize_email(raw) else {
            flow.ui.clear_messages();
            flow.ui.set_value("email", json!(raw));
            return self
                .form_error(flow, Some("email"), text::invalid_email(raw), now)
                .await;
        };
        if !code::sends_left(&self.deps, &flow) {
            let message = text::too_many_sends();
            return self
                .replace(&flow, req, message, Replacement::Retry, now)
                .await;
        }
        let to = To {
            via: Via::Email,
            address: &address,
        };
        match self.deps.delivery.admit(to, Some(&req.client), now).await? {
            Admission::Send | Admission::Refused(_) => {}
            Admission::Limited { retry_after } => return Err(FlowError::RateLimited(retry_after)),
        }
        // One query either way; a disabled identity is answered like an unknown address.
        let owner = self
            .deps
            .store
            .find_recovery_target(Via::Email.as_str(), &address)
            .await?
            .filter(|t| IdentityState::parse(&t.state) == Some(IdentityState::Active));
        let actor = req.actor(
            flow.id,
            owner.as_ref().map(|o| o.identity_id),
            Some(&address),
        );
        crate::audit::event(crate::audit::AuditEvent::RecoveryRequested(actor));
        let minted = code::mint(&self.deps, method, now);
        let message = self.message(&flow, &minted, &address, owner.as_ref(), now)?;
        flow.code_sent(method, Via::Email, &address)?;
        let masked = Self::masked(&flow);
        flow.ui = recovery_nodes::recovery_sent_ui(
            &flow.ui.action,
            method,
            masked.as_deref(),
            Some(&address),
            &code::code_config(&self.deps),
        );
        let target = Target {
            known: owner.is_some(),
            identity_id: owner.as_ref().map(|o| o.identity_id),
            address_id: owner.as_ref().and_then(|o| o.verifiable_address_id),
        };
        self.committed(flow, &minted, target, message, req, now)
            .await
    }

    /// Stores the challenge, the flow and the message; the answer for each ending.
    pub(super) async fn committed(
        &self,
        flow: Flow,
        minted: &code::Minted,
        target: Target,
        message: Option<OutboxMessage>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let result = code::commit(&self.deps, &flow, minted, target, message, now).await?;
        self.sent(flow, result, req, now).await
    }

    /// The code or link for a known address; for an unknown one, with
    /// `notify_unknown_recipients`, the `recovery_code`/`recovery` invalid email, and without
    /// it a decoy composed like the real message and never sent (the same work either way).
    fn message(
        &self,
        flow: &Flow,
        minted: &code::Minted,
        address: &str,
        owner: Option<&RecoveryTarget>,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>, FlowError> {
        let mut data = json!({
            "to": address,
            "request_url": flow.request_url,
            "transient_payload": flow.transient_payload.clone().unwrap_or(json!({})),
            "expires_in_minutes": minted.lifespan_minutes,
        });
        let identity = match owner {
            Some(o) => json!({"id": o.identity_id, "schema_id": o.schema_id, "traits": o.traits.0}),
            None if self.cfg().notify_unknown_recipients => {
                let kind = match minted.method {
                    Method::Link => TemplateKind::RecoveryInvalid,
                    _ => TemplateKind::RecoveryCodeInvalid,
                };
                return self.compose(address, kind, &data, minted, now).map(Some);
            }
            // The decoy: the same message for nobody (see `delivery::as_decoy`).
            None => json!({"id": uuid::Uuid::nil(), "schema_id": "", "traits": {}}),
        };
        data["identity"] = identity;
        let kind = if minted.method == Method::Link {
            let url = link::url(
                &self.deps.public,
                crate::flow::core::FlowKind::Recovery,
                flow.id,
                minted.expose(),
            );
            data["recovery_url"] = json!(url);
            TemplateKind::RecoveryValid
        } else {
            data["recovery_code"] = json!(minted.expose());
            TemplateKind::RecoveryCodeValid
        };
        let message = self.compose(address, kind, &data, minted, now)?;
        Ok(Some(match owner {
            Some(_) => message,
            None => crate::delivery::as_decoy(message, &crate::delivery::no_account(NOTIFY_KEY)),
        }))
    }

    fn compose(
        &self,
        address: &str,
        kind: TemplateKind,
        data: &serde_json::Value,
        minted: &code::Minted,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, FlowError> {
        let expires = Some(minted.expires_at);
        Ok(self
            .deps
            .courier
            .compose(Channel::Email, address, kind, data, expires, now)?)
    }
}

const NOTIFY_KEY: &str = "selfservice.flows.recovery.notify_unknown_recipients is off";
