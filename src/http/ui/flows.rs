//! `GET /ui/login?flow=`, `/ui/registration?flow=`, `/ui/settings?flow=`, `/ui/recovery?flow=`:
//! those flows as pages. One handler serves every kind: a kind is a loader arm, a route and a
//! template named after it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{Page, PageQuery, belongs_to_browser, browser_url, polish, restart};
use crate::config::CodeAlphabet;
use crate::flow::core::{FlowError, FlowKind, FlowType, State};
use crate::http::AppState as Registry;
use crate::http::{ApiError, now};
use crate::service::ServiceError;

pub(super) async fn login(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&reg, &req, &q, FlowKind::Login).await
}

pub(super) async fn registration(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&reg, &req, &q, FlowKind::Registration).await
}

pub(super) async fn settings(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&reg, &req, &q, FlowKind::Settings).await
}

pub(super) async fn recovery(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    page(&reg, &req, &q, FlowKind::Recovery).await
}

/// Whether codes are digits only (the inputs then ask for a numeric keyboard).
pub(super) fn numeric_codes(reg: &Registry) -> bool {
    reg.settings.selfservice.methods.code.config.alphabet == CodeAlphabet::Numeric
}

async fn page(
    reg: &Registry,
    req: &HttpRequest,
    q: &PageQuery,
    kind: FlowKind,
) -> Result<HttpResponse, ApiError> {
    let name = kind.as_str();
    let Some(id) = q.flow_id() else {
        return Ok(restart(reg, name, q.return_to.as_deref()));
    };
    let flow = match reg.flows.flows.get(kind, id).await {
        Ok(f) => f,
        Err(FlowError::NotFound(_)) => return Ok(restart(reg, name, q.return_to.as_deref())),
        Err(FlowError::Unavailable(e)) => return Err(ServiceError::from(e).into()),
        Err(e) => {
            tracing::error!(error = ?e, flow = name, "loading a flow for the UI failed");
            return Err(ApiError::internal());
        }
    };
    // A recovery flow an administrator issued is bound to no browser.
    let browser = flow.flow_type == FlowType::Browser && !flow.is_unbound();
    if !belongs_to_browser(reg, req, browser, &flow.csrf_token) || flow.is_expired(now()) {
        return Ok(super::restart_or_refuse(reg, req, name, &flow));
    }
    // A settings flow is shown only to its own identity's session.
    if kind == FlowKind::Settings
        && let Some(owner) = flow.identity_id
    {
        let signed_in = crate::http::public::sessions::session_of(reg, req).await?;
        if signed_in.is_none_or(|(_, identity)| identity.id != owner) {
            return Ok(restart(reg, name, flow.return_to.as_deref()));
        }
    }
    let page = Page::new(reg, req);
    let sent_to = polish::sent_line(&page, &flow, "code_sent_to");
    let ui = polish::ui_json(&page, &flow, sent_to.is_some());
    let mut form = page.form(&ui);
    polish::code_inputs(&mut form, numeric_codes(reg));
    if kind == FlowKind::Settings {
        polish::settings_sections(&mut form, &page);
    }
    if kind == FlowKind::Login && flow.state == State::ChooseMethod {
        polish::code_button_skips_password(&mut form);
    }
    let return_to = flow.return_to.as_deref();
    let model = json!({
        "form": form,
        "kind": name,
        "refresh": flow.refresh,
        "sent_to": sent_to,
        "resent": polish::resent_line(&page, &flow),
        "waiting": flow.state == State::SentEmail,
        "recovery_enabled": reg.recovery.enabled(),
        "links": {
            "login": browser_url(reg, "login", return_to),
            "registration": browser_url(reg, "registration", return_to),
            "verification": browser_url(reg, "verification", return_to),
            "recovery": browser_url(reg, "recovery", return_to),
        },
    });
    let title = page.text(&format!("{name}_title"));
    page.render(reg, StatusCode::OK, name, &title, model)
}
