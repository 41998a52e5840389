//! `POST /admin/recovery/code` (201 `{recovery_link, recovery_code, expires_at}`) and
//! `POST /admin/recovery/link` (200 `{recovery_link, expires_at}`): a recovery code or link
//! for an identity, as Kratos's admin API issues them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::flow::recovery::{AdminIssue, AdminIssued};
use crate::http::AppState as Registry;
use crate::http::flows::errors::api_error;
use crate::http::{ApiError, method_not_allowed, now};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/recovery/code")
            .route(web::post().to(code))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/recovery/link")
            .route(web::post().to(link))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The request body as the service takes it; a missing or malformed `identity_id` is 400.
fn issue(reg: &Registry, req: &HttpRequest, body: &Value) -> Result<AdminIssue, ApiError> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let identity_id = text("identity_id")
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| ApiError::bad_request(r#"Property "identity_id" must be a UUID."#))?;
    Ok(AdminIssue {
        identity_id,
        expires_in: text("expires_in"),
        flow_type: text("flow_type"),
        request_url: crate::http::flows::request::request_url(reg, req),
    })
}

fn found(issued: Option<AdminIssued>) -> Result<AdminIssued, ApiError> {
    issued.ok_or_else(|| ApiError::not_found().reason("could not find identity"))
}

async fn code(
    reg: web::Data<Registry>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let issue = issue(&reg, &req, &body)?;
    let issued = reg.recovery.issue_code(issue, now()).await;
    let issued = found(issued.map_err(|e| api_error(&reg, e))?)?;
    Ok(HttpResponse::Created().json(json!({
        "recovery_link": issued.link,
        "recovery_code": issued.code,
        "expires_at": issued.expires_at,
    })))
}

async fn link(
    reg: web::Data<Registry>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let issue = issue(&reg, &req, &body)?;
    let issued = reg.recovery.issue_link(issue, now()).await;
    let issued = found(issued.map_err(|e| api_error(&reg, e))?)?;
    Ok(HttpResponse::Ok().json(json!({
        "recovery_link": issued.link,
        "expires_at": issued.expires_at,
    })))
}
