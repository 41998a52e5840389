//! Kratos's error flow: a browser request that fails outside a flow is sent to the error UI
//! with the id of a stored error, which the UI reads back from `/self-service/errors?id=`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Page, see_other};
use crate::http::{ApiError, now};
use crate::persistence::errors::StoredError;
use crate::startup::Registry;

/// Stores `err` and answers 303 to `selfservice.flows.error.ui_url` (default `/ui/error`)
/// with `?id=`. When the error cannot be stored, the JSON error itself is the answer.
pub async fn forward_to_error_ui(reg: &Registry, err: &ApiError) -> HttpResponse {
    let now = now();
    let stored = StoredError {
        id: Uuid::new_v4(),
        error: err.body()["error"].clone(),
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = reg.store.insert_selfservice_error(&stored).await {
        return ApiError::from(e).error_response();
    }
    let ui = reg
        .settings
        .selfservice
        .flows
        .error
        .ui_url
        .clone()
        .unwrap_or_else(|| format!("{}ui/error", reg.urls.public));
    let sep = if ui.contains('?') { '&' } else { '?' };
    see_other(&format!("{ui}{sep}id={}", stored.id))
}

#[derive(Deserialize)]
pub(super) struct IdQuery {
    id: Option<String>,
}

async fn load(reg: &Registry, id: Option<&str>) -> Result<Option<StoredError>, ApiError> {
    let Some(id) = id.and_then(|s| Uuid::parse_str(s).ok()) else {
        return Ok(None);
    };
    Ok(reg.store.get_selfservice_error(id).await?)
}

/// `GET /self-service/errors?id=` → `{id, error, created_at, updated_at}`.
pub(super) async fn get_error(
    reg: web::Data<Registry>,
    q: web::Query<IdQuery>,
) -> Result<HttpResponse, ApiError> {
    let e = load(&reg, q.id.as_deref())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(json!({
        "id": e.id,
        "error": e.error,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    })))
}

/// `GET /ui/error?id=`: the stored error in plain words.
pub(super) async fn page(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<IdQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::new(&reg, &req)?;
    let stored = load(&reg, q.id.as_deref()).await?;
    let Some(stored) = stored else {
        let model = json!({"message": page.text("error_unknown"), "code": null, "error_id": null});
        return page.render(
            &reg,
            StatusCode::NOT_FOUND,
            "error",
            &page.text("error_title"),
            model,
        );
    };
    let e = &stored.error;
    let id = e.get("id").and_then(Value::as_str);
    let code = e.get("code").and_then(Value::as_u64);
    let specific = id.map(|i| page.text(&format!("error_{i}")));
    let reason = e.get("reason").and_then(Value::as_str).map(str::to_owned);
    let generic = code.map(|c| page.text(&format!("error_{c}")));
    let message = [specific, reason, generic]
        .into_iter()
        .flatten()
        .find(|m| !m.is_empty())
        .or_else(|| e.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| page.text("error_unknown"));
    let model = json!({"message": message, "code": code, "error_id": id});
    page.render(
        &reg,
        StatusCode::OK,
        "error",
        &page.text("error_title"),
        model,
    )
}
