//! `GET /ui/verification?flow=<id>`: the verification flow as a page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Page, see_other};
use crate::flow::FlowType;
use crate::flow::verification::{Method, State, VerificationError, VerificationFlow};
use crate::http::{ApiError, now};
use crate::startup::Registry;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    flow: Option<String>,
    return_to: Option<String>,
}

/// A new browser flow, keeping where the user wanted to go afterwards.
fn restart_url(reg: &Registry, return_to: Option<&str>) -> String {
    let mut url = format!("{}self-service/verification/browser", reg.urls.public);
    if let Some(r) = return_to.filter(|r| !r.is_empty()) {
        url.push_str("?return_to=");
        url.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    url
}

fn restart(reg: &Registry, return_to: Option<&str>) -> HttpResponse {
    see_other(&restart_url(reg, return_to))
}

/// The same check as `GET /self-service/verification/flows`: a browser flow is shown only
/// to the browser holding its CSRF cookie.
fn belongs_to_browser(reg: &Registry, req: &HttpRequest, flow: &VerificationFlow) -> bool {
    if flow.kind != FlowType::Browser {
        return true;
    }
    let name = crate::csrf::cookie_name(reg.urls.public.as_str());
    req.cookie(&name)
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
        .is_some_and(|c| crate::csrf::verify(&flow.csrf_token, &c))
}

/// The address a code or link went to: the resend button's value (code) or the filled
/// address field (link).
fn sent_to(flow: &VerificationFlow) -> Option<String> {
    flow.ui
        .nodes
        .iter()
        .filter(|n| n.attributes.get("name").and_then(Value::as_str) == Some("email"))
        .filter_map(|n| n.attributes.get("value").and_then(Value::as_str))
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

pub(super) async fn page(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(id) = q.flow.as_deref().and_then(|s| Uuid::parse_str(s).ok()) else {
        return Ok(restart(&reg, q.return_to.as_deref()));
    };
    let flow = match reg.verification.get(id).await {
        Ok(f) => f,
        Err(VerificationError::NotFound) => return Ok(restart(&reg, q.return_to.as_deref())),
        Err(VerificationError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, "loading a verification flow for the UI failed");
            return Err(ApiError::internal());
        }
    };
    if !belongs_to_browser(&reg, &req, &flow) || flow.is_expired(now()) {
        return Ok(restart(&reg, flow.return_to.as_deref()));
    }
    let passed = flow.state == State::PassedChallenge;
    if passed && let Some(to) = &reg.settings.ui.success_redirects.verification {
        return Ok(see_other(to));
    }
    let page = Page::new(&reg, &req)?;
    let ui = serde_json::to_value(&flow.ui).map_err(|_| ApiError::internal())?;
    let sent_to = (flow.state == State::SentEmail)
        .then(|| sent_to(&flow))
        .flatten()
        .map(|address| {
            let key = if flow.active == Some(Method::Link) {
                "verification_sent_link_to"
            } else {
                "verification_sent_to"
            };
            let masked = crate::ui::mask_address(&address);
            let ctx = json!({"address": masked});
            crate::ui::catalogue::fill(
                &page.text(key),
                ctx.as_object().unwrap_or(&Default::default()),
            )
            .unwrap_or_default()
        });
    let title = page.text(if passed {
        "verification_success_title"
    } else {
        "verification_title"
    });
    let model = json!({
        "form": page.form(&ui),
        "sent_to": sent_to,
        "passed": passed,
        "state": flow.state.as_str(),
        "restart": restart_url(&reg, flow.return_to.as_deref()),
        "login_href": super::flows::browser_url(&reg, "login", flow.return_to.as_deref()),
    });
    page.render(&reg, StatusCode::OK, "verification", &title, model)
}
