//! `/admin/api-keys` (partner API keys and credits) and `/admin/phone-verifications` (the
//! operator's view of phone verifications: status, attempts, channel history, never codes).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::{ApiError, method_not_allowed, now};
use crate::persistence::phone::ApiKey;
use crate::phone::keys;
use crate::startup::Registry;

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
    let secret = keys::new_secret();
    let key = ApiKey {
        id: Uuid::new_v4(),
        name,
        key: keys::new_key(),
        credits,
        revoked_at: None,
        created_at: now(),
    };
    reg.store
        .create_api_key(&key, &keys::hash_secret(&reg.keyring, &secret))
        .await?;
    crate::audit::event(crate::audit::AuditEvent::ApiKeyCreated { key_id: key.id });
    let mut out = serde_json::to_value(&key).unwrap_or_default();
    out["secret"] = json!(secret);
    Ok(HttpResponse::Created().json(out))
}

async fn list(reg: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(reg.store.list_api_keys().await?))
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

async fn revoke(reg: web::Data<Registry>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    if reg.store.revoke_api_key(id, now()).await? {
        crate::audit::event(crate::audit::AuditEvent::ApiKeyRevoked { key_id: id });
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

async fn top_up(
    reg: web::Data<Registry>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let add = non_negative(&body, "add", true)?;
    match reg.store.add_api_key_credits(id, add).await? {
        Some(credits) => Ok(HttpResponse::Ok().json(json!({"id": id, "credits": credits}))),
        None => Err(ApiError::not_found()),
    }
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

async fn verifications(reg: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    let (rows, deliveries) = reg.store.list_phone_requests(250).await?;
    let at = now();
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let history: Vec<Value> = deliveries
                .iter()
                .filter(|d| d.request_id == r.id)
                .map(|d| {
                    let channel = if d.channel == "voice" {
                        "call"
                    } else {
                        d.channel.as_str()
                    };
                    json!({"channel": channel, "sent_at": d.sent_at})
                })
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
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
