//! `POST /admin/recovery/code` and `/admin/recovery/link`: an administrator issues a
//! recovery code or link for an identity (Kratos's way to invite a user). The flow is bound
//! to no browser (whoever holds the link may open it), the code proves the identity only
//! (no address becomes verified), and it lives for `expires_in`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::RecoveryService;
use crate::config::GoDuration;
use crate::flow::core::{Flow, FlowError, FlowKind, FlowType, Method, NewFlow, Outcome};
use crate::schema::Via;
use crate::strategy::code::{self, Target, recovery_nodes};
use crate::strategy::link;

/// What the administrator asked for.
#[derive(Debug, Clone)]
pub struct AdminIssue {
    pub identity_id: Uuid,
    pub expires_in: Option<String>,
    pub flow_type: Option<String>,
    /// The admin request's URL, kept as the flow's `request_url`.
    pub request_url: String,
}

/// What the administrator gets: where to send the person, and the code (code method only).
pub struct AdminIssued {
    pub link: String,
    pub code: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminIssued")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Kratos's `expires_in`: a Go duration that must be positive (default `default`).
fn lifetime(raw: Option<&str>, default: GoDuration) -> Result<chrono::Duration, FlowError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(default.chrono());
    };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let parsed: GoDuration = digits.parse().map_err(|_| {
        FlowError::BadRequest(format!(
            r#"Unable to parse "expires_in" as a duration string (e.g. "1h", "1m30s", "500ms"): {raw}"#
        ))
    })?;
    if negative || parsed.std().is_zero() {
        return Err(FlowError::BadRequest(format!(
            r#"Value from "expires_in" must result to a future time: {raw}"#
        )));
    }
    Ok(parsed.chrono())
}

fn flow_type(raw: Option<&str>) -> Result<FlowType, FlowError> {
    match raw {
        None => Ok(FlowType::Browser),
        Some(t) => FlowType::parse(t).ok_or_else(|| {
            FlowError::BadRequest(format!(r#"Value from "flow_type" is not valid: "{t}""#))
        }),
    }
}

impl RecoveryService {
    /// A recovery code for the identity; `None` when there is no such identity.
    pub async fn issue_code(
        &self,
        issue: AdminIssue,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminIssued>, FlowError> {
        self.issue(issue, Method::Code, now).await
    }

    /// A recovery link for the identity; `None` when there is no such identity.
    pub async fn issue_link(
        &self,
        issue: AdminIssue,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminIssued>, FlowError> {
        self.issue(issue, Method::Link, now).await
    }

    async fn issue(
        &self,
        issue: AdminIssue,
        method: Method,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminIssued>, FlowError> {
        if !self.enabled() || !self.method_enabled(method) {
            return Err(FlowError::BadRequest(format!(
                "Recovery by {} is not enabled.",
                method.as_str()
            )));
        }
        let default = match method {
            Method::Link => self.deps.settings.selfservice.methods.link.config.lifespan,
            _ => code::code_config(&self.deps).lifespan,
        };
        let life = lifetime(issue.expires_in.as_deref(), default)?;
        let flow_type = flow_type(issue.flow_type.as_deref())?;
        let Some(identity) = self.deps.store.get_identity(issue.identity_id).await? else {
            return Ok(None);
        };
        let new = NewFlow {
            kind: FlowKind::Recovery,
            flow_type,
            request_url: issue.request_url,
            return_to: None,
            csrf: String::new(),
        };
        let mut flow = self.deps.new_flow(new, now);
        flow.expires_at = now + life;
        flow.active = Some(method);
        flow.internal_context[crate::flow::core::UNBOUND_BROWSER] = serde_json::json!(true);
        self.deps.flows.insert(&flow).await?;
        let mut minted = code::mint(&self.deps, method, now);
        minted.expires_at = now + life;
        // The per-address failure budget is kept per identity for these codes.
        flow.code_sent(method, Via::Email, &format!("identity:{}", identity.id))?;
        flow.ui = recovery_nodes::recovery_sent_ui(
            &flow.ui.action,
            method,
            None,
            None,
            &code::code_config(&self.deps),
        );
        flow.ui.messages.clear();
        let target = Target {
            known: true,
            identity_id: Some(identity.id),
            address_id: None,
        };
        let req = crate::flow::core::Request::default();
        match self
            .committed(flow, &minted, target, None, &req, now)
            .await?
        {
            Outcome::Show { flow, .. } => Ok(Some(self.issued(&flow, &minted, method))),
            other => Err(FlowError::unexpected(format!(
                "a new recovery flow could not store its code: {other:?}"
            ))),
        }
    }

    fn issued(&self, flow: &Flow, minted: &code::Minted, method: Method) -> AdminIssued {
        let (link, code) = match method {
            Method::Link => (
                link::url(
                    &self.deps.public,
                    FlowKind::Recovery,
                    flow.id,
                    minted.expose(),
                ),
                None,
            ),
            _ => (
                self.deps.ui_location(FlowKind::Recovery, flow.id),
                Some(minted.expose().to_owned()),
            ),
        };
        AdminIssued {
            link,
            code,
            expires_at: flow.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_a_positive_go_duration() {
        let d = GoDuration::from_secs(60);
        assert_eq!(lifetime(None, d).unwrap(), chrono::Duration::minutes(1));
        assert_eq!(
            lifetime(Some("1h30m"), d).unwrap(),
            chrono::Duration::minutes(90)
        );
        for bad in ["-1h", "0s", "soon"] {
            assert!(
                matches!(lifetime(Some(bad), d), Err(FlowError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(flow_type(Some("native")).is_err());
        assert_eq!(flow_type(Some("api")).unwrap(), FlowType::Api);
    }
}
