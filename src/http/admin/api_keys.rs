//! `/admin/api-keys` (partner API keys and credits) and `/admin/phone-verifications` (the
//! operator's view of phone verifications: status, attempts, channel history, never codes).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::AppState as Registry;
use crate::http::{ApiError, method_not_allowed, now};
use crate::phone::PhoneRequestView;
use crate::service::ServiceError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api-keys")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api-keys/{id}")
            .route(web::delete().to(revoke))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api-keys/{id}/credits")
            .route(web::post().to(top_up))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/phone-verifications")
            .route(web::get().to(verifications))
            .default_service(web::to(method_not_allowed)),
    );
}

fn field_error(field: &str, rule: &str, reason: &str) -> ApiError {
    ApiError::bad_request(format!("{field}: {reason}"))
        .details(json!({"field": field, "rule": rule}))
}

fn non_negative(body: &Value, field: &str, required: bool) -> Result<i64, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) if !required => Ok(0),
        None | Some(Value::Null) => Err(field_error(field, "required", "is required")),
        Some(v) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| field_error(field, "minimum", "must be a whole number >= 0")),
    }
}

async fn create(
    reg: web::Data<Registry>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let name = match body.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.trim().to_owned(),
        _ => {
            return Err(field_error(
                "name",
                "required",
                "is required (1 to 200 characters)",
            ));
        }
    };
    let credits = non_negative(&body, "credits", false)?;
    let created = reg.phone.create_api_key(name, credits, now()).await?;
    let key_id = created.key.id;
    crate::audit::event(crate::audit::AuditEvent::ApiKeyCreated { key_id });
    let mut out = serde_json::to_value(&created.key).unwrap_or_default();
    out["secret"] = json!(created.secret);
    Ok(HttpResponse::Created().json(out))
}

async fn list(reg: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(reg.phone.list_api_keys().await?))
}

/// An unknown key is a plain 404, as before the service answered with reasons.
fn not_found(e: ServiceError) -> ApiError {
    match e {
        ServiceError::NotFound => ApiError::not_found(),
        other => other.into(),
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

async fn revoke(reg: web::Data<Registry>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    reg.phone
        .revoke_api_key(id, now())
        .await
        .map_err(not_found)?;
    crate::audit::event(crate::audit::AuditEvent::ApiKeyRevoked { key_id: id });
    Ok(HttpResponse::NoContent().finish())
}

async fn top_up(
    reg: web::Data<Registry>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let add = non_negative(&body, "add", true)?;
    let credits = reg.phone.add_credits(id, add).await.map_err(not_found)?;
    Ok(HttpResponse::Ok().json(json!({"id": id, "credits": credits})))
}

fn status(
    raw: &str,
    expires_at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> &str {
    match raw {
        "pending" if next.is_none() && at >= expires_at => "expired",
        other => other,
    }
}

/// One verification as the operator sees it: status, attempts, channels, never the code.
fn verification_json(v: &PhoneRequestView, at: DateTime<Utc>) -> Value {
    let r = &v.request;
    let history: Vec<Value> = v
        .channels
        .iter()
        .map(|(channel, sent_at)| json!({"channel": channel, "sent_at": sent_at}))
        .collect();
    json!({
        "request_id": r.id,
        "api_key_id": r.api_key_id,
        "phone_number": r.phone_number,
        "sender_name": r.sender_name,
        "status": status(&r.status, r.expires_at, r.next_step_at, at),
        "attempts": r.attempts,
        "step": r.step,
        "channels": history,
        "expires_at": r.expires_at,
        "next_step_at": r.next_step_at,
        "verified_at": r.verified_at,
        "created_at": r.created_at,
    })
}

async fn verifications(reg: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    let views = reg.phone.list_requests(250).await?;
    let at = now();
    let out: Vec<Value> = views.iter().map(|v| verification_json(v, at)).collect();
    Ok(HttpResponse::Ok().json(out))
}
