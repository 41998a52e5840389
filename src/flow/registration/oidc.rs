//! Signing up with what a social sign-in provider vouches for.

use chrono::{DateTime, Utc};

use super::RegistrationService;
use super::after::Registered;
use crate::flow::core::{Flow, FlowError, FlowKind, Method, Outcome, Request, show_error};
use crate::persistence::StoreError;
use crate::session::Issued;
use crate::strategy::oidc::{SignUp, Vouched, conflict_message, prepare_sign_up};

/// How a social sign-up ended: done, or the subject turned out to have an account after all
/// (a concurrent sign-up of the same subject won), which the caller signs in.
pub enum SocialSignUp {
    Done(Outcome),
    Exists(Box<Vouched>, crate::identity::Identity),
}

impl RegistrationService {
    /// A new identity for an unknown subject. A login flow turns into a registration flow,
    /// as in Kratos; a refresh only re-authenticates and never creates an identity.
    pub async fn sign_up_with(
        &self,
        mut v: Vouched,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<SocialSignUp, FlowError> {
        if v.flow.identity_id.is_some() {
            let mut flow = v.flow;
            flow.ui
                .messages
                .push(crate::flow::core::messages::invalid_credentials());
            return Ok(SocialSignUp::Done(show_error(&self.deps, flow, now).await?));
        }
        if v.flow.kind != FlowKind::Registration {
            let f = self.continuation(&v.flow, now);
            self.deps.flows.insert(&f).await?;
            v.flow = f;
        }
        let traits = v.mapped.traits.clone();
        let mut flow: Flow = v.flow.clone();
        self.fill_ui(&mut flow, &traits);
        let identity = match prepare_sign_up(&self.deps, &mut flow.ui, &v, now).await? {
            SignUp::Ready(i) => *i,
            SignUp::Refused => {
                return Ok(SocialSignUp::Done(show_error(&self.deps, flow, now).await?));
            }
        };
        let provider = v.provider.id().to_owned();
        let session = self.signs_in("oidc").then(|| {
            self.deps.sessions.issue(
                identity.id,
                "oidc",
                Some(provider.clone()),
                req.device.clone(),
                now,
            )
        });
        let stored = self
            .deps
            .store
            .register_identity(&identity, session.as_ref().map(Issued::rows), None)
            .await;
        match stored {
            Ok(()) => {
                let reg = Registered {
                    method: Method::Oidc,
                    session,
                    decoy: false,
                    admit: crate::flow::verification::Admit::Check,
                };
                let done = self
                    .after_registration(flow, identity, reg, req, now)
                    .await?;
                Ok(SocialSignUp::Done(done))
            }
            // Someone took the address between the check and the insert: a concurrent sign-up
            // of the same subject signs in, anything else is refused.
            Err(StoreError::Conflict(_)) => {
                let identifier = format!("{provider}:{}", v.subject);
                if let Some(same) = self
                    .deps
                    .store
                    .find_identity_by_identifier("oidc", &identifier)
                    .await?
                {
                    v.flow = flow;
                    return Ok(SocialSignUp::Exists(Box::new(v), same));
                }
                let message = conflict_message(&self.deps, &v).await?;
                flow.ui.messages.push(message);
                Ok(SocialSignUp::Done(show_error(&self.deps, flow, now).await?))
            }
            Err(e) => Err(e.into()),
        }
    }
}
