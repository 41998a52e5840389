//! Kratos's post-persist hooks of settings: verification of the first `pending` address,
//! then the configured hooks. The flow stays usable in `success`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::SettingsService;
use crate::flow::core::hooks::{self, AfterHook};
use crate::flow::core::messages;
use crate::flow::core::{Done, DoneBody, Flow, FlowError, FlowKind, Method, Outcome, Request};
use crate::identity::{AddressStatus, Identity};

impl SettingsService {
    /// `{ui}?flow=` unless return_to or an `after` URL of the method or flow says otherwise
    /// (Kratos shows the settings flow again by default).
    fn return_url(&self, flow: &Flow, method: Method) -> String {
        let after = &self.deps.cfg(FlowKind::Settings).after;
        let configured = flow.return_to.is_some()
            || after.default_browser_return_url.is_some()
            || match method {
                Method::Password => after.password.as_ref(),
                Method::Profile => after.profile.as_ref(),
                _ => None,
            }
            .is_some_and(|m| m.default_browser_return_url.is_some());
        if configured {
            self.deps.return_url(flow, method)
        } else {
            self.deps.ui_location(FlowKind::Settings, flow.id)
        }
    }

    pub(super) async fn after_settings(
        &self,
        mut flow: Flow,
        mut identity: Identity,
        method: Method,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        let mut continue_with = Vec::new();
        let mut redirect = self.return_url(&flow, method);
        let mut verification_url: Option<String> = None;
        if self.verification.enabled()
            && let Some(address) = identity
                .verifiable_addresses
                .iter_mut()
                .find(|a| a.status == AddressStatus::Pending && !a.value.is_empty())
        {
            let started = self
                .verification
                .start_from(&flow, address, None, req, now)
                .await;
            match started {
                Ok(started) => {
                    if started.sent {
                        address.status = AddressStatus::Sent;
                    }
                    let url = self.deps.flow_ui_url(&started.flow);
                    flow.internal_context["verification_flow"] =
                        json!({"id": started.flow.id, "address": address.value, "url": url});
                    continue_with.push(hooks::show_verification_ui(
                        started.flow.id,
                        &address.value,
                        url.as_deref(),
                    ));
                    verification_url = url;
                }
                // The change is stored; the user can ask for a code from the verification page.
                Err(e) => {
                    tracing::warn!(error = ?e, flow_id = %flow.id, "settings could not start verification");
                }
            }
        }
        let hook_ctx = json!({"flow": flow.to_json(), "identity": serde_json::to_value(&identity).unwrap_or(Value::Null), "request_url": flow.request_url});
        for hook in self.deps.hooks.settings.for_method(method.as_str()) {
            match hook {
                AfterHook::ShowVerificationUi => {
                    if let Some(u) = &verification_url {
                        redirect = u.clone();
                    }
                }
                AfterHook::WebHook(h) => {
                    if let Err(e) = h.run(hook_ctx.clone()).await {
                        tracing::warn!(error = %e, flow_id = %flow.id, "after-settings web hook failed");
                    }
                }
                _ => {}
            }
        }
        self.fill_ui(&mut flow, &identity.schema_id, &identity.traits);
        flow.ui.messages.push(messages::settings_saved());
        // What was saved, for the page's message (settings flows do not show `active`).
        flow.active = Some(method);
        flow.saved()?;
        self.deps.flows.update(&flow, now).await?;
        Ok(Outcome::Done(Box::new(Done {
            flow,
            identity,
            session: None,
            continue_with,
            redirect,
            body: DoneBody::Flow,
        })))
    }
}
