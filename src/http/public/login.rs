//! `/self-service/login*`: thin adapters over `flow::login`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::forms::{
    browser_init, csrf_error, csrf_from_cookie, current_session, device, limit_flow_creation,
    parse_fields, parse_flow_id, request_url, respond, respond_error, see_other, submit_context,
};
use super::registration::{FlowQuery, SubmitQuery};
use crate::flow::FlowType;
use crate::flow::env::FormError;
use crate::flow::form::FormFlow;
use crate::flow::registration::FormSubmission;
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::startup::Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/self-service/login/browser", web::get().to(init_browser))
        .route("/self-service/login/api", web::get().to(init_api))
        .route("/self-service/login/flows", web::get().to(get_flow))
        .route("/self-service/login", web::post().to(submit));
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
    #[serde(default)]
    refresh: Option<String>,
}

impl InitQuery {
    fn refresh(&self) -> bool {
        matches!(self.refresh.as_deref(), Some("true" | "1"))
    }
}

async fn init(
    reg: &Registry,
    req: &HttpRequest,
    q: &InitQuery,
    flow_type: FlowType,
) -> Result<HttpResponse, ApiError> {
    let current = current_session(reg, req).await?;
    if current.is_some() && !q.refresh() {
        if flow_type == FlowType::Browser && !is_json_request(req) {
            return Ok(see_other(
                &reg.settings.selfservice.default_browser_return_url,
            ));
        }
        return Err(super::forms::form_error(
            reg,
            FormError::SessionAlreadyAvailable,
        ));
    }
    limit_flow_creation(reg, req).await?;
    let existing = csrf_from_cookie(reg, req);
    let token = match flow_type {
        FlowType::Browser => existing.clone().unwrap_or_else(crate::csrf::new_token),
        FlowType::Api => String::new(),
    };
    let created = reg
        .login
        .create(
            flow_type,
            request_url(reg, req),
            q.return_to.as_deref(),
            q.refresh(),
            token.clone(),
            current.as_ref(),
            now(),
        )
        .await;
    let flow = match created {
        Ok(f) => f,
        Err(e) => return Ok(respond_error(reg, req, e).await),
    };
    if flow_type == FlowType::Api {
        return Ok(HttpResponse::Ok().json(flow.to_json()));
    }
    browser_init(
        reg,
        req,
        || flow.to_json(),
        &reg.login.ui_location(flow.id),
        existing.is_none().then_some(token),
    )
}

async fn init_browser(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    init(&reg, &req, &q, FlowType::Browser).await
}

async fn init_api(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    init(&reg, &req, &q, FlowType::Api).await
}

/// `GET .../flows?id=`: a browser flow only for the browser that owns it; an expired login
/// or registration flow is 410 with `self_service_flow_expired`.
pub(super) fn check_flow_readable(
    reg: &Registry,
    req: &HttpRequest,
    flow: &FormFlow,
    kind: &str,
) -> Result<(), ApiError> {
    if flow.flow_type == FlowType::Browser {
        let cookie = csrf_from_cookie(reg, req);
        if !cookie.is_some_and(|c| crate::csrf::verify(&flow.csrf_token, &c)) {
            return Err(csrf_error(
                "the CSRF cookie is missing or does not belong to this flow",
            ));
        }
    }
    if flow.is_expired(now()) {
        return Err(super::forms::expired_error(
            kind,
            true,
            flow.expires_at,
            None,
        ));
    }
    Ok(())
}

async fn get_flow(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_flow_id(q.id.as_deref()).map_err(|_| ApiError::not_found())?;
    let flow = reg
        .login
        .get(id)
        .await
        .map_err(|e| super::forms::form_error(&reg, e))?;
    check_flow_readable(&reg, &req, &flow, "login")?;
    Ok(HttpResponse::Ok().json(flow.to_json()))
}

async fn submit(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<SubmitQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let id = parse_flow_id(q.flow.as_deref())?;
    let fields = parse_fields(&req, &body, q.fields)?;
    let current = current_session(&reg, &req).await?;
    let outcome = reg
        .login
        .submit(
            id,
            FormSubmission::from_fields(fields),
            submit_context(&reg, &req),
            device(&reg, &req),
            current.map(|(s, _)| s.id),
            now(),
        )
        .await;
    match outcome {
        Ok(o) => Ok(respond(&reg, &req, o, |id| reg.login.ui_location(id))),
        Err(FormError::NotFound) => Err(ApiError::not_found()
            .reason("The login request could not be found. Please restart the flow.")),
        Err(e) => Ok(respond_error(&reg, &req, e).await),
    }
}
