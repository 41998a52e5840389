//! Sending a code or link: from the verification form, or on a flow's behalf (the automatic
//! verification of sign-up, sign-in and settings). Every send passes the delivery choke
//! point; the challenge, its message and the flow's new state commit together.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::VerificationService;
use crate::courier::TemplateKind;
use crate::delivery::{Admission, Recipient as To};
use crate::flow::core::FlowService;
use crate::flow::core::{
    Flow, FlowError, FlowKind, FlowType, Method, NewFlow, Outcome, Replacement, Request,
};
use crate::identity::VerifiableAddress;
use crate::persistence::challenges::Outstanding;
use crate::persistence::{Channel, OutboxMessage};
use crate::schema::{Via, normalize_email, normalize_phone};
use crate::strategy::code::{self, CodeFlow, Target, nodes};
use crate::text;

/// Who gets the message.
#[derive(Debug)]
pub enum Recipient {
    /// The owner of the address, if any (the normal path).
    Lookup,
    /// Nobody gets a code: the flow looks sent, its challenge can never match and its message
    /// is a sealed decoy. Used when a sign-up names an address that belongs to another
    /// account (whose owner got a notice with the failed sign-up) and for numbers the SMS
    /// policy refuses. The same lookups run as for [`Recipient::Lookup`], so that both cost
    /// the same.
    Decoy,
}

/// Whether a flow-triggered send still has to pass the send limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Counted here; a limited send is skipped quietly.
    Check,
    /// The caller already counted it (sign-up admits before any work, and answers 429).
    Done,
}

/// The verification flow a hook started (or reused), and whether a message went out now.
#[derive(Debug)]
pub struct Started {
    pub flow: Flow,
    pub sent: bool,
}

impl VerificationService {
    /// The form's send (or resend): the address parsed, the flow's sends and the send limits
    /// checked, then the code or link delivered.
    pub(super) async fn send(
        &self,
        mut flow: Flow,
        method: Method,
        raw: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        // An address without `@` is a phone number (Kratos master), when SMS can be sent.
        let as_phone = method == Method::Code && !raw.contains('@') && self.phone_allowed();
        let parsed = if as_phone {
            normalize_phone(raw).map(|v| (Via::Sms, v))
        } else {
            normalize_email(raw).map(|v| (Via::Email, v))
        };
        let Ok((via, address)) = parsed else {
            flow.ui.clear_messages();
            flow.ui.set_value("email", json!(raw));
            let message = if as_phone {
                text::invalid_phone(raw)
            } else {
                text::invalid_email(raw)
            };
            return self.form_error(flow, Some("email"), message, now).await;
        };
        if !code::sends_left(&self.deps, &flow) {
            let message = text::too_many_sends();
            return self
                .replace(&flow, req, message, Replacement::Retry, now)
                .await;
        }
        let to = To {
            via,
            address: &address,
        };
        let recipient = match self.deps.delivery.admit(to, Some(&req.client), now).await? {
            Admission::Send => Recipient::Lookup,
            // Answered as sent: whether a number may get an SMS says nothing about accounts.
            Admission::Refused(_) => Recipient::Decoy,
            Admission::Limited { retry_after } => return Err(FlowError::RateLimited(retry_after)),
        };
        self.deliver(flow, method, (via, address), recipient, req, now)
            .await
    }

    /// A new flow of `origin`'s type in `sent_email` for `address`, its code or link queued
    /// and the address marked `sent`. An unexpired code already waiting for this address in
    /// a flow of the same browser is reused instead; a send the limits refuse is skipped, and
    /// the flow waits in `choose_method` with the address filled in.
    pub async fn start_for_address(
        &self,
        origin: NewFlow,
        address: &VerifiableAddress,
        recipient: Recipient,
        admit: Admit,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Started, FlowError> {
        self.check_enabled()?;
        let mut origin = origin;
        origin.kind = FlowKind::Verification;
        if origin.flow_type == FlowType::Api {
            origin.csrf = String::new();
        }
        // Looked up for a decoy too (and ignored), so that both cost the same.
        let waiting = self.outstanding(&origin, address, now).await?;
        if let (Recipient::Lookup, Some(flow)) = (&recipient, waiting) {
            return Ok(Started { flow, sent: false });
        }
        let mut flow = self.fresh(origin, Vec::new(), now);
        let mut recipient = recipient;
        if admit == Admit::Check {
            let to = To {
                via: address.via,
                address: &address.value,
            };
            match self.deps.delivery.admit(to, client, now).await? {
                Admission::Send => {}
                // The flow looks sent; nothing goes to a number the SMS policy refuses.
                Admission::Refused(_) => recipient = Recipient::Decoy,
                Admission::Limited { .. } => {
                    flow.ui.set_value("email", json!(address.value));
                    self.deps.flows.insert(&flow).await?;
                    return Ok(Started { flow, sent: false });
                }
            }
        }
        self.deps.flows.insert(&flow).await?;
        let method = self.primary();
        let pair = (address.via, address.value.clone());
        match self
            .deliver(flow, method, pair, recipient, &Request::default(), now)
            .await?
        {
            Outcome::Show { flow, .. } => Ok(Started { flow, sent: true }),
            // A brand-new flow has sent nothing yet, so it cannot be used up or finished.
            other => Err(FlowError::unexpected(format!(
                "a new verification flow could not send: {other:?}"
            ))),
        }
    }

    /// [`Self::start_for_address`] for a flow that finds an address unverified (a sign-in
    /// or a settings change): a flow of its type for its browser, the address's owner as
    /// recipient, the send limits checked.
    pub async fn start_from(
        &self,
        flow: &Flow,
        address: &VerifiableAddress,
        return_to: Option<String>,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Started, FlowError> {
        let mut origin = NewFlow::renewing(FlowKind::Verification, flow, req);
        origin.return_to = return_to;
        let client = Some(req.client.as_str());
        self.start_for_address(
            origin,
            address,
            Recipient::Lookup,
            Admit::Check,
            client,
            now,
        )
        .await
    }

    async fn outstanding(
        &self,
        origin: &NewFlow,
        address: &VerifiableAddress,
        now: DateTime<Utc>,
    ) -> Result<Option<Flow>, FlowError> {
        let found = self
            .deps
            .store
            .outstanding_challenge(Outstanding {
                kind: FlowKind::Verification.as_str(),
                flow_type: origin.flow_type.as_str(),
                csrf_token: &origin.csrf,
                address_id: address.id,
                now,
            })
            .await?;
        match found {
            Some(id) => Ok(Some(self.deps.flows.get(FlowKind::Verification, id).await?)),
            None => Ok(None),
        }
    }

    /// Sends a code or link for `address` in `flow` (all checks done).
    async fn deliver(
        &self,
        mut flow: Flow,
        method: Method,
        (via, address): (Via, String),
        recipient: Recipient,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        // Looked up for a decoy too, and dropped: the same work on both branches.
        let found = self
            .deps
            .store
            .find_address_owner(via.as_str(), &address)
            .await?;
        let decoy = matches!(recipient, Recipient::Decoy);
        let owner = found.filter(|_| !decoy);
        let minted = code::mint(&self.deps, method, now);
        let to = (via, address.as_str());
        let message = self.message(&flow, &minted, to, owner.as_ref(), decoy, now)?;
        flow.code_sent(method, via, &address)?;
        let masked =
            (flow.flow_type == FlowType::Browser).then(|| crate::csrf::mask(&flow.csrf_token));
        flow.ui = nodes::sent_ui(
            &flow.ui.action,
            method,
            masked.as_deref(),
            &address,
            via,
            self.phone_allowed(),
        );
        let target = Target {
            known: owner.is_some(),
            identity_id: None,
            address_id: owner.as_ref().map(|o| o.address_id),
        };
        let result = code::commit(&self.deps, &flow, &minted, target, message, now).await?;
        self.sent(flow, result, req, now).await
    }

    /// The message for a send: the code or link to a known address; to an unknown one,
    /// optionally a notice that someone tried (email only: an SMS would cost money), and
    /// otherwise a decoy: the same message composed and sealed for nobody and written as
    /// `abandoned`, so that a send for an unknown address costs what a send for a known one
    /// costs (SECURITY.md C3) and the courier never picks it up. Operators see decoys in
    /// the admin list, never attempted. With `decoy` it is always the decoy (no notice).
    fn message(
        &self,
        flow: &Flow,
        minted: &code::Minted,
        (via, address): (Via, &str),
        owner: Option<&crate::persistence::challenges::AddressOwner>,
        decoy: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>, FlowError> {
        let public = &self.deps.public;
        let mut data = json!({
            "to": address,
            "request_url": flow.request_url,
            "transient_payload": flow.transient_payload.clone().unwrap_or(json!({})),
            "expires_in_minutes": minted.lifespan_minutes,
        });
        let notify = self.cfg().notify_unknown_recipients && via == Via::Email && !decoy;
        let identity = match owner {
            Some(o) => json!({"id": o.identity_id, "schema_id": o.schema_id, "traits": o.traits.0}),
            None if notify => {
                let kind = match minted.method {
                    Method::Link => TemplateKind::VerificationInvalid,
                    _ => TemplateKind::VerificationCodeInvalid,
                };
                return self
                    .compose(via, address, kind, &data, minted, now)
                    .map(Some);
            }
            None => json!({"id": uuid::Uuid::nil(), "schema_id": "", "traits": {}}),
        };
        data["identity"] = identity;
        let secret = minted.expose();
        let kind = if minted.method == Method::Code {
            data["verification_code"] = json!(secret);
            data["verification_url"] = json!(format!(
                "{public}self-service/verification?code={secret}&flow={}",
                flow.id
            ));
            TemplateKind::VerificationCodeValid
        } else {
            data["verification_url"] = json!(format!(
                "{public}self-service/verification?flow={}&token={secret}",
                flow.id
            ));
            TemplateKind::VerificationValid
        };
        let mut message = self.compose(via, address, kind, &data, minted, now)?;
        if decoy {
            let why = "a decoy for a taken address at sign-up, or a number the SMS policy refuses";
            message = crate::delivery::as_decoy(message, why);
        } else if owner.is_none() {
            message = crate::delivery::as_decoy(message, &crate::delivery::no_account(NOTIFY_KEY));
        }
        Ok(Some(message))
    }

    fn compose(
        &self,
        via: Via,
        address: &str,
        kind: TemplateKind,
        data: &serde_json::Value,
        minted: &code::Minted,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, FlowError> {
        let channel = match via {
            Via::Email => Channel::Email,
            Via::Sms => Channel::Sms,
        };
        let expires = Some(minted.expires_at);
        Ok(self
            .deps
            .courier
            .compose(channel, address, kind, data, expires, now)?)
    }
}

const NOTIFY_KEY: &str = "selfservice.flows.verification.notify_unknown_recipients is off";
