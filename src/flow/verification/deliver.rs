//! Sending a challenge once every check has passed: the code or link, its message and the
//! flow's new state commit together.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::service::SubmitContext;
use super::submit::{HMAC_PURPOSE, generate_code, generate_token, secret_input};
use super::{
    Method, Outcome, State, VerificationError, VerificationFlow, VerificationService, sent_ui,
};
use crate::courier::TemplateKind;
use crate::flow::FlowType;
use crate::persistence::verification::{NewChallenge, Send};
use crate::persistence::{Channel, OutboxMessage};
use crate::schema::Via;
use crate::text;

/// Who gets the message.
#[derive(Debug)]
pub enum Recipient {
    /// The owner of the address, if any (the normal path).
    Lookup,
    /// Nobody gets a code: the flow looks sent, its challenge can never match, and the given
    /// notice (if any) goes out instead. Used when a sign-up names an address that belongs
    /// to another account.
    Decoy(Option<Box<OutboxMessage>>),
}

impl VerificationService {
    /// Sends a code or link for `address` in `flow` (all checks done): the challenge, the
    /// message and the flow's new state commit together.
    pub(super) async fn deliver(
        &self,
        mut flow: VerificationFlow,
        method: Method,
        (via, address): (Via, String),
        recipient: Recipient,
        ctx: &SubmitContext,
        now: DateTime<Utc>,
    ) -> Result<Outcome, VerificationError> {
        let code_cfg = &self.settings.selfservice.methods.code.config;
        let max_sends = i32::try_from(code_cfg.max_resends).unwrap_or(i32::MAX);
        let owner = match recipient {
            Recipient::Lookup => self.store.find_address_owner(via, &address).await?,
            Recipient::Decoy(_) => None,
        };
        let (secret, lifespan) = match method {
            Method::Code => (
                generate_code(code_cfg.length, code_cfg.alphabet),
                code_cfg.lifespan,
            ),
            Method::Link => (
                generate_token(),
                self.settings.selfservice.methods.link.config.lifespan,
            ),
        };
        let expires_at = now + lifespan.chrono();
        // For an unknown address the stored MAC is of a random token longer than any code,
        // so no submitted code can ever match it.
        let mac_input = if owner.is_some() {
            secret.clone()
        } else {
            generate_token()
        };
        let secret_hmac = self
            .keyring
            .sign_hex(HMAC_PURPOSE, &secret_input(flow.id, &mac_input));
        let channel = match via {
            Via::Email => Channel::Email,
            Via::Sms => Channel::Sms,
        };
        let mut data = json!({
            "to": address,
            "request_url": flow.request_url,
            "transient_payload": flow.transient_payload.clone().unwrap_or(json!({})),
            "expires_in_minutes": lifespan.whole_minutes(),
        });
        let kind = match (&owner, method) {
            (Some(o), _) => {
                data["identity"] =
                    json!({"id": o.identity_id, "schema_id": o.schema_id, "traits": o.traits.0});
                if method == Method::Code {
                    data["verification_code"] = json!(secret);
                    data["verification_url"] = json!(format!(
                        "{}self-service/verification?code={secret}&flow={}",
                        self.public, flow.id
                    ));
                    Some(TemplateKind::VerificationCodeValid)
                } else {
                    data["verification_url"] = json!(format!(
                        "{}self-service/verification?flow={}&token={secret}",
                        self.public, flow.id
                    ));
                    Some(TemplateKind::VerificationValid)
                }
            }
            // Unknown address: optionally tell the mailbox someone tried; never an SMS.
            (None, _) if self.cfg().notify_unknown_recipients && via == Via::Email => {
                Some(match method {
                    Method::Code => TemplateKind::VerificationCodeInvalid,
                    Method::Link => TemplateKind::VerificationInvalid,
                })
            }
            (None, _) => None,
        };
        let message = match (recipient, kind) {
            (Recipient::Decoy(notice), _) => notice.map(|n| *n),
            (Recipient::Lookup, Some(k)) => {
                Some(
                    self.courier
                        .compose(channel, &address, k, &data, Some(expires_at), now)?,
                )
            }
            (Recipient::Lookup, None) => None,
        };
        flow.sent(method, via).map_err(|e| {
            VerificationError::Store(crate::persistence::StoreError::Corrupt(e.to_string()))
        })?;
        let masked = (flow.kind == FlowType::Browser).then(|| crate::csrf::mask(&flow.csrf_token));
        flow.ui = sent_ui(
            &self.action(flow.id),
            method,
            masked.as_deref(),
            &address,
            via,
            self.phone_allowed(),
        );
        let challenge = NewChallenge {
            id: Uuid::new_v4(),
            method: method.as_str(),
            secret_hmac,
            verifiable_address_id: owner.as_ref().map(|o| o.address_id),
            via,
            expires_at,
            issued_at: now,
        };
        let sent = self
            .store
            .send_verification_challenge(Send {
                flow: &flow,
                max_sends,
                // Stored for unknown addresses too (bound to no address, its code sent nowhere,
                // so it can never match): both paths then write the same rows and take the
                // same time.
                challenge: Some(challenge),
                message,
                address_id: owner.as_ref().map(|o| o.address_id),
                now,
            })
            .await?;
        if !sent {
            // The sends were used up, or a concurrent code submission finished the flow.
            if self.get(flow.id).await?.state == State::PassedChallenge {
                let new = self
                    .renew(&flow, ctx, text::verification_already_done(), now)
                    .await?;
                return Ok(Outcome::Completed { new });
            }
            let new = self.renew(&flow, ctx, text::too_many_sends(), now).await?;
            return Ok(Outcome::Replaced { new });
        }
        flow.send_count += 1;
        Self::outcome_show(flow, 200)
    }
}
