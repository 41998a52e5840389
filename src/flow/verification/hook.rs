//! The automatic verification hook of registration, login and settings: a verification flow
//! started on the user's behalf, its code or link already sent.

use chrono::{DateTime, Utc};

use super::deliver::Recipient;
use super::service::SubmitContext;
use super::{Outcome, VerificationError, VerificationFlow, VerificationService};
use crate::flow::FlowType;
use crate::identity::VerifiableAddress;

/// The flow that triggered a verification: its type, request URL, where to return after
/// verifying, and (browser flows) the CSRF token of the browser.
#[derive(Debug, Clone)]
pub struct Origin {
    pub kind: FlowType,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf: String,
}

impl VerificationService {
    /// A new flow of `kind` (the triggering flow's type) in `sent_email` for `address`, with
    /// the code or link queued and the address marked `sent`. `csrf` binds a browser flow to
    /// the browser that triggered it.
    pub async fn start_for_address(
        &self,
        origin: Origin,
        address: &VerifiableAddress,
        recipient: Recipient,
        now: DateTime<Utc>,
    ) -> Result<VerificationFlow, VerificationError> {
        if !self.enabled() {
            return Err(VerificationError::Disabled);
        }
        let method = self.primary();
        if !self.method_enabled(method) {
            return Err(VerificationError::StrategyDisabled(method.as_str()));
        }
        let flow = self.fresh(
            origin.kind,
            origin.request_url,
            origin.return_to,
            origin.csrf,
            Vec::new(),
            now,
        );
        self.store.insert_verification_flow(&flow).await?;
        let ctx = SubmitContext::default();
        match self
            .deliver(
                flow,
                method,
                (address.via, address.value.clone()),
                recipient,
                &ctx,
                now,
            )
            .await?
        {
            Outcome::Show { flow, .. } => Ok(flow),
            // A brand-new flow has sent nothing yet, so it cannot be used up or finished.
            other => Err(VerificationError::Store(
                crate::persistence::StoreError::Corrupt(format!(
                    "a new verification flow could not send: {other:?}"
                )),
            )),
        }
    }

    /// `{ui}?flow=<id>` for browser flows; api flows have no UI location.
    pub fn flow_ui_url(&self, flow: &VerificationFlow) -> Option<String> {
        (flow.kind == FlowType::Browser).then(|| self.ui_location(flow.id))
    }
}
