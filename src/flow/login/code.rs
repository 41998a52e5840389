//! Sign-in by code on the code strategy: identifier → code sent (400 with the flow in
//! `sent_email`, 1010014) → code entered → session. An unknown identifier is answered like
//! a known one (its challenge can never match). The code proves the address: the code-use
//! transaction marks it verified, so `require_verified_address` is satisfied. Password
//! failures do not block this way in, and its own failures count per flow and address.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::LoginService;
use crate::courier::TemplateKind;
use crate::delivery::{Admission, Recipient as To};
use crate::flow::core::FlowService;
use crate::flow::core::{
    Flow, FlowError, FlowType, Method, MethodError, Outcome, ParseMethod, Replacement, Request,
    State,
};
use crate::identity::IdentityState;
use crate::persistence::challenges::SendResult;
use crate::persistence::{Channel, CredentialHolder, OutboxMessage};
use crate::schema::Via;
use crate::strategy::PasswordOrOidc;
use crate::strategy::code::login::{LoginCodeFields, login_sent_ui};
use crate::strategy::code::{self, Miss, Proved, Target};
use crate::strategy::oidc::OidcFields;
use crate::strategy::password::{PasswordFields, identifier_keys};
use crate::text;

/// A login submission, by method.
#[derive(Debug)]
pub enum LoginMethod {
    Password(PasswordFields),
    Oidc(OidcFields),
    Code(LoginCodeFields),
}

impl ParseMethod for LoginMethod {
    fn parse(method: Option<&str>, mut fields: Map<String, Value>) -> Result<Self, MethodError> {
        if method == Some("code") {
            return Ok(Self::Code(LoginCodeFields::take(&mut fields)));
        }
        Ok(match PasswordOrOidc::parse(method, fields)? {
            PasswordOrOidc::Password(p) => Self::Password(p),
            PasswordOrOidc::Oidc(o) => Self::Oidc(o),
        })
    }
}

impl LoginService {
    pub(super) fn code_enabled(&self) -> bool {
        let code = &self.deps.settings.selfservice.methods.code;
        code.is_enabled() && code.passwordless_enabled
    }

    pub(super) async fn code(
        &self,
        flow: Flow,
        fields: LoginCodeFields,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        match (flow.state, fields.code, fields.identifier) {
            (State::SentEmail, Some(code), _) if !fields.resend => {
                self.use_login_code(flow, code.expose(), req, now).await
            }
            (State::SentEmail, _, _) if fields.resend => {
                let identifier = flow.challenge.sent_to.clone().unwrap_or_default();
                self.send_login_code(flow, &identifier, req, now).await
            }
            (_, _, Some(identifier)) => self.send_login_code(flow, &identifier, req, now).await,
            (state, _, _) => {
                let missing = if state == State::SentEmail {
                    "code"
                } else {
                    "identifier"
                };
                self.form_error(flow, Some(missing), text::missing_property(missing), now)
                    .await
            }
        }
    }

    /// The address a code goes to for `raw`, and the active identity (if any) that signs in
    /// with it: one statement whether or not one does (the same work on both branches).
    async fn code_target(
        &self,
        raw: &str,
    ) -> Result<(Via, String, Option<CredentialHolder>), FlowError> {
        let keys = identifier_keys(raw);
        let mut found = None;
        for key in &keys {
            if let Some(h) = self.deps.store.find_credential_holder("code", key).await? {
                found = Some((key.clone(), h));
                break;
            }
        }
        let (address, holder) = match found {
            Some((k, h)) => (k, Some(h)),
            None => (keys[0].clone(), None),
        };
        let via = if address.contains('@') {
            Via::Email
        } else {
            Via::Sms
        };
        let holder = holder.filter(|h| h.state == IdentityState::Active);
        Ok((via, address, holder))
    }

    async fn send_login_code(
        &self,
        mut flow: Flow,
        raw: &str,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let (via, address, identity) = self.code_target(raw).await?;
        if via == Via::Sms && !self.deps.courier.can_deliver(Channel::Sms) {
            flow.ui.set_value("identifier", json!(raw));
            let message = text::invalid_email(raw);
            return self
                .form_error(flow, Some("identifier"), message, now)
                .await;
        }
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
        let mut identity = identity;
        match self.deps.delivery.admit(to, Some(&req.client), now).await? {
            Admission::Send => {}
            Admission::Refused(_) => identity = None,
            Admission::Limited { retry_after } => return Err(FlowError::RateLimited(retry_after)),
        }
        let minted = code::mint(&self.deps, Method::Code, now);
        // An unknown identifier gets the same message composed for nobody, never sent (the
        // same work either way, see `delivery::as_decoy`).
        let message = match &identity {
            Some(i) => {
                let who =
                    json!({"id": i.identity_id, "schema_id": i.schema_id, "traits": i.traits});
                self.login_message(&flow, &minted, via, &address, who, now)?
            }
            None => {
                let nobody = json!({"id": uuid::Uuid::nil(), "schema_id": "", "traits": {}});
                let decoy = self.login_message(&flow, &minted, via, &address, nobody, now)?;
                let why = crate::delivery::no_account("sign-in by code mails only accounts");
                crate::delivery::as_decoy(decoy, &why)
            }
        };
        flow.code_sent(Method::Code, via, &address)?;
        let masked =
            (flow.flow_type == FlowType::Browser).then(|| crate::csrf::mask(&flow.csrf_token));
        let label = self.identifier_label();
        let cfg = code::code_config(&self.deps);
        flow.ui = login_sent_ui(&flow.ui.action, masked.as_deref(), raw, label, &cfg);
        let target = Target {
            known: identity.is_some(),
            identity_id: identity.as_ref().map(|i| i.identity_id),
            address_id: identity.as_ref().and_then(|i| i.address_id),
        };
        match code::commit(&self.deps, &flow, &minted, target, Some(message), now).await? {
            SendResult::Sent => {
                flow.challenge.send_count += 1;
                Ok(Outcome::Show { flow, status: 400 })
            }
            SendResult::AlreadyPassed => Ok(crate::flow::core::already_finished(flow, 4010007)),
            SendResult::SendsUsedUp => {
                let message = text::too_many_sends();
                self.replace(&flow, req, message, Replacement::Retry, now)
                    .await
            }
        }
    }

    fn login_message(
        &self,
        flow: &Flow,
        minted: &code::Minted,
        via: Via,
        address: &str,
        identity: Value,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, FlowError> {
        let data = json!({
            "to": address,
            "login_code": minted.expose(),
            "identity": identity,
            "request_url": flow.request_url,
            "transient_payload": flow.transient_payload.clone().unwrap_or(json!({})),
            "expires_in_minutes": minted.lifespan_minutes,
        });
        let channel = match via {
            Via::Email => Channel::Email,
            Via::Sms => Channel::Sms,
        };
        let expires = Some(minted.expires_at);
        Ok(self.deps.courier.compose(
            channel,
            address,
            TemplateKind::LoginCodeValid,
            &data,
            expires,
            now,
        )?)
    }

    async fn use_login_code(
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
        // The flow stays in `sent_email` when the code is consumed; `finish` claims it once
        // (only one submission can consume the code).
        let mut success = flow.clone();
        success.ui.clear_messages();
        let ends = code::CodeEndings {
            success: &success,
            wrong: || code::wrong_code(&flow, text::login_code_invalid()),
            expired: |at| crate::flow::core::messages::flow_expired(4010001, "login", at, now),
        };
        let id = match code::check_code(&self.deps, &flow, submitted, ends, req, now).await? {
            Ok(Proved {
                identity_id: Some(id),
                ..
            }) => id,
            Ok(_) => return Err(FlowError::unexpected("a login code names no identity")),
            Err(Miss::Wrong(wrong)) => {
                return Ok(Outcome::Show {
                    flow: *wrong,
                    status: 400,
                });
            }
            Err(Miss::Completed) => return Ok(crate::flow::core::already_finished(flow, 4010007)),
            Err(Miss::Replace(message, why)) => {
                return self.replace(&flow, req, message, why, now).await;
            }
        };
        let Some(identity) = self.deps.store.get_identity(id).await? else {
            return Err(FlowError::unexpected("the signed-in identity is gone"));
        };
        if identity.state != IdentityState::Active {
            let message = crate::flow::core::messages::account_disabled();
            return self.form_error(success, None, message, now).await;
        }
        self.finish(success, identity, Method::Code, None, req, now)
            .await
    }
}
