//! Kratos's post-persist hooks of registration: the automatic verification first, then the
//! configured hooks, `session` last.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::RegistrationService;
use crate::courier::TemplateKind;
use crate::flow::core::hooks::{self, AfterHook};
use crate::flow::core::{
    Done, DoneBody, Flow, FlowError, FlowKind, FlowType, Method, NewFlow, Outcome, Request,
};
use crate::flow::verification::{Admit, Recipient};
use crate::identity::{AddressStatus, Identity};
use crate::persistence::{Channel, OutboxMessage};
use crate::schema::Via;
use crate::session::Issued;

/// How the identity came to be.
pub(super) struct Registered {
    pub method: Method,
    /// The session the `session` hook issued (already stored with the identity).
    pub session: Option<Issued>,
    /// The sign-up named a taken address: it is answered exactly like a new one, and the
    /// address's owner gets a notice instead of a code.
    pub decoy: bool,
    /// Whether the verification hook still has to pass the send limits (the password form
    /// admits before hashing).
    pub admit: Admit,
}

impl RegistrationService {
    pub(super) async fn after_registration(
        &self,
        mut flow: Flow,
        mut identity: Identity,
        reg: Registered,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let mut continue_with = Vec::new();
        let mut redirect = self.deps.return_url(&flow, reg.method);
        let mut verification: Option<(Uuid, String, Option<String>)> = None;
        if self.verification.enabled()
            && let Some(address) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| !a.verified && !a.value.is_empty())
        {
            // A taken address's owner got a notice with the failed insert; its flow looks sent.
            let recipient = if reg.decoy {
                Recipient::Decoy
            } else {
                Recipient::Lookup
            };
            let csrf = req.csrf_for(flow.flow_type, &flow.csrf_token);
            let mut origin = NewFlow::after(FlowKind::Verification, &flow, csrf);
            origin.return_to = None;
            let started = self
                .verification
                .start_for_address(
                    origin,
                    address,
                    recipient,
                    reg.admit,
                    Some(&req.client),
                    now,
                )
                .await?;
            if started.sent {
                address.status = AddressStatus::Sent;
            }
            let url = self.deps.flow_ui_url(&started.flow);
            flow.internal_context["verification_flow"] =
                json!({"id": started.flow.id, "address": address.value, "url": url});
            verification = Some((started.flow.id, address.value.clone(), url));
        }
        let hooks = self.deps.hooks.registration.for_method(reg.method.as_str());
        let hook_ctx = hooks
            .iter()
            .any(|h| matches!(h, AfterHook::WebHook(_)))
            .then(|| json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url}));
        for hook in hooks {
            match hook {
                AfterHook::ShowVerificationUi => {
                    if let Some((id, address, url)) = &verification {
                        continue_with.push(hooks::show_verification_ui(
                            *id,
                            address,
                            url.as_deref(),
                        ));
                        if let Some(u) = url {
                            redirect = u.clone();
                        }
                    }
                }
                // Off the request path: the identity is stored, a failing notification must
                // not undo the sign-up, and a taken address (no hook) must not answer faster.
                AfterHook::WebHook(h) if !reg.decoy => {
                    let (h, ctx, flow_id) = (h.clone(), hook_ctx.clone(), flow.id);
                    tokio::spawn(async move {
                        if let Err(e) = h.run(ctx.unwrap_or_default()).await {
                            tracing::warn!(error = %e, %flow_id, "after-registration web hook failed");
                        }
                    });
                }
                _ => {}
            }
        }
        if let (Some(s), FlowType::Api) = (&reg.session, flow.flow_type) {
            continue_with.push(hooks::set_session_token(s.token.expose()));
        }
        flow.passed()?;
        self.deps.flows.update(&flow, now).await?;
        metrics::counter!("verity_flows_total", "kind" => "registration", "event" => "completed")
            .increment(1);
        Ok(Outcome::Done(Box::new(Done {
            flow,
            identity,
            session: reg.session,
            continue_with,
            redirect,
            body: DoneBody::Session,
        })))
    }

    /// "Someone tried to sign up with your address", by email only (an SMS would cost money
    /// for every probe: a number gets the notice as a decoy, never sent). Composed for every
    /// sign-up that may need it, and queued only when the address turns out to be taken (in
    /// the transaction that found it taken).
    pub(super) fn duplicate_notice(
        &self,
        via: Via,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, FlowError> {
        if via == Via::Sms {
            // A number gets no notice; a decoy of the SMS a new number gets keeps the cost.
            let data = json!({"to": address, "verification_code": "000000",
                "verification_url": "", "identity": {}, "expires_in_minutes": 0});
            let decoy = self.deps.courier.compose(
                Channel::Sms,
                address,
                TemplateKind::VerificationCodeValid,
                &data,
                None,
                now,
            )?;
            return Ok(crate::delivery::as_decoy(
                decoy,
                "a taken number gets no SMS notice",
            ));
        }
        let data = json!({"to": address, "login_url": format!("{}self-service/login/browser", self.deps.public)});
        Ok(self.deps.courier.compose(
            Channel::Email,
            address,
            TemplateKind::RegistrationDuplicate,
            &data,
            None,
            now,
        )?)
    }
}
