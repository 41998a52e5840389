//! `GET /ui/login?flow=`, `/ui/registration?flow=`, `/ui/settings?flow=`: those flows as
//! pages. One handler serves every kind: a kind is a loader
//! arm, a route and a template named after it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Page, see_other};
use crate::flow::FlowType;
use crate::flow::env::FormError;
use crate::flow::form::{FlowKind, FormFlow};
use crate::http::{ApiError, now};
use crate::startup::Registry;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    flow: Option<String>,
    return_to: Option<String>,
}

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

async fn load(reg: &Registry, kind: FlowKind, id: Uuid) -> Result<FormFlow, FormError> {
    match kind {
        FlowKind::Login => reg.login.get(id).await,
        FlowKind::Registration => reg.registration.get(id).await,
        FlowKind::Settings => reg.settings_flow.get(id).await,
    }
}

/// `/self-service/<kind>/browser`, keeping where the user wanted to go afterwards.
pub(super) fn browser_url(reg: &Registry, kind: &str, return_to: Option<&str>) -> String {
    let mut url = format!("{}self-service/{kind}/browser", reg.urls.public);
    if let Some(r) = return_to.filter(|r| !r.is_empty()) {
        url.push_str("?return_to=");
        url.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    url
}

/// A browser flow is shown only to the browser holding its CSRF cookie, as the API does.
fn belongs_to_browser(reg: &Registry, req: &HttpRequest, flow: &FormFlow) -> bool {
    if flow.flow_type != FlowType::Browser {
        return true;
    }
    let name = crate::csrf::cookie_name(reg.urls.public.as_str());
    req.cookie(&name)
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
        .is_some_and(|c| crate::csrf::verify(&flow.csrf_token, &c))
}

async fn page(
    reg: &Registry,
    req: &HttpRequest,
    q: &PageQuery,
    kind: FlowKind,
) -> Result<HttpResponse, ApiError> {
    let name = kind.as_str();
    let restart = |return_to: Option<&str>| Ok(see_other(&browser_url(reg, name, return_to)));
    let Some(id) = q.flow.as_deref().and_then(|s| Uuid::parse_str(s).ok()) else {
        return restart(q.return_to.as_deref());
    };
    let flow = match load(reg, kind, id).await {
        Ok(f) => f,
        Err(FormError::NotFound) => return restart(q.return_to.as_deref()),
        Err(FormError::Store(e)) => return Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, flow = name, "loading a flow for the UI failed");
            return Err(ApiError::internal());
        }
    };
    // A settings flow is shown only to its own identity's session.
    let owner_signed_in = match flow.identity_id {
        Some(owner) if kind == FlowKind::Settings => {
            crate::http::public::sessions::session_of(reg, req)
                .await
                .is_some_and(|(_, identity)| identity.id == owner)
        }
        _ => true,
    };
    if !owner_signed_in || !belongs_to_browser(reg, req, &flow) || flow.is_expired(now()) {
        return restart(flow.return_to.as_deref());
    }
    let page = Page::new(reg, req)?;
    let ui = serde_json::to_value(&flow.ui).map_err(|_| ApiError::internal())?;
    let return_to = flow.return_to.as_deref();
    let model = json!({
        "form": page.form(&ui),
        "kind": name,
        "refresh": flow.refresh,
        "links": {
            "login": browser_url(reg, "login", return_to),
            "registration": browser_url(reg, "registration", return_to),
            "verification": browser_url(reg, "verification", return_to),
        },
    });
    let title = page.text(&format!("{name}_title"));
    page.render(reg, StatusCode::OK, name, &title, model)
}
