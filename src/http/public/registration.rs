//! `/self-service/registration*`: thin adapters over `flow::registration`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::forms::{
    browser_init, csrf_from_cookie, current_session, device, limit_flow_creation, parse_fields,
    parse_flow_id, request_url, respond, respond_error, see_other, submit_context,
};
use crate::flow::FlowType;
use crate::flow::env::FormError;
use crate::flow::registration::FormSubmission;
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::startup::Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/registration/browser",
        web::get().to(init_browser),
    )
    .route("/self-service/registration/api", web::get().to(init_api))
    .route("/self-service/registration/flows", web::get().to(get_flow))
    .route("/self-service/registration", web::post().to(submit));
}

#[derive(Deserialize)]
pub(super) struct InitQuery {
    pub return_to: Option<String>,
}

async fn init_browser(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    if current_session(&reg, &req).await?.is_some() {
        return already_signed_in(&reg, &req);
    }
    limit_flow_creation(&reg, &req).await?;
    let existing = csrf_from_cookie(&reg, &req);
    let token = existing.clone().unwrap_or_else(crate::csrf::new_token);
    let flow = match reg
        .registration
        .create(
            FlowType::Browser,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            token.clone(),
            now(),
        )
        .await
    {
        Ok(f) => f,
        Err(e) => return Ok(respond_error(&reg, &req, e).await),
    };
    browser_init(
        &reg,
        &req,
        || flow.to_json(),
        &reg.registration.ui_location(flow.id),
        existing.is_none().then_some(token),
    )
}

/// Signed in already: browsers go to the default return URL, JSON clients get 400.
pub(super) fn already_signed_in(
    reg: &Registry,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if is_json_request(req) {
        return Err(super::forms::form_error(
            reg,
            FormError::SessionAlreadyAvailable,
        ));
    }
    Ok(see_other(
        &reg.settings.selfservice.default_browser_return_url,
    ))
}

async fn init_api(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    if current_session(&reg, &req).await?.is_some() {
        return Err(super::forms::form_error(
            &reg,
            FormError::SessionAlreadyAvailable,
        ));
    }
    limit_flow_creation(&reg, &req).await?;
    match reg
        .registration
        .create(
            FlowType::Api,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            String::new(),
            now(),
        )
        .await
    {
        Ok(flow) => Ok(HttpResponse::Ok().json(flow.to_json())),
        Err(e) => Ok(respond_error(&reg, &req, e).await),
    }
}

#[derive(Deserialize)]
pub(super) struct FlowQuery {
    pub id: Option<String>,
}

async fn get_flow(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_flow_id(q.id.as_deref()).map_err(|_| ApiError::not_found())?;
    let flow = reg
        .registration
        .get(id)
        .await
        .map_err(|e| super::forms::form_error(&reg, e))?;
    super::login::check_flow_readable(&reg, &req, &flow, "registration")?;
    Ok(HttpResponse::Ok().json(flow.to_json()))
}

#[derive(Deserialize)]
pub(super) struct SubmitQuery {
    pub flow: Option<String>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
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
    if current_session(&reg, &req).await?.is_some() {
        return already_signed_in(&reg, &req);
    }
    let outcome = reg
        .registration
        .submit(
            id,
            FormSubmission::from_fields(fields),
            submit_context(&reg, &req),
            device(&reg, &req),
            now(),
        )
        .await;
    match outcome {
        Ok(o) => Ok(respond(&reg, &req, o, |id| {
            reg.registration.ui_location(id)
        })),
        Err(FormError::NotFound) => Err(ApiError::not_found()
            .reason("The registration request could not be found. Please restart the flow.")),
        Err(e) => Ok(respond_error(&reg, &req, e).await),
    }
}
