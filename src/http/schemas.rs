//! `GET /schemas` and `GET /schemas/{id}` (the id in the URL is base64url of the schema id).

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::ApiError;
use crate::http::AppState as Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/schemas", web::get().to(list))
        .route("/schemas/{id}", web::get().to(get));
}

async fn list(reg: web::Data<Registry>) -> HttpResponse {
    let all: Vec<_> = reg
        .identities
        .schemas()
        .iter()
        .map(|s| json!({"id": s.id, "schema": s.raw}))
        .collect();
    HttpResponse::Ok().json(all)
}

async fn get(reg: web::Data<Registry>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let schemas = reg.identities.schemas();
    let decoded = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let schema = decoded
        .as_deref()
        .and_then(|id| schemas.get(id))
        .or_else(|| schemas.get(&raw))
        .ok_or_else(|| {
            ApiError::not_found().reason(format!("unable to find JSON Schema ID: {raw}"))
        })?;
    Ok(HttpResponse::Ok().json(&schema.raw))
}

/// `{public}/schemas/<base64url(id)>`, as identities show it in `schema_url`.
pub fn schema_url(public_base: &url::Url, id: &str) -> String {
    format!("{}schemas/{}", public_base, URL_SAFE_NO_PAD.encode(id))
}
