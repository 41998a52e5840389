//! Kratos's error flow: a browser request that fails outside a flow is sent to the error UI
//! with the id of a stored error, which the UI reads back from `/self-service/errors?id=`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Page, see_other};
use crate::http::AppState as Registry;
use crate::http::{ApiError, now};
use crate::ratelimit::{Rule, ip_subject};
use crate::service::ServiceError;

/// Stores `err` and answers 303 to `selfservice.flows.error.ui_url` (default `/ui/error`)
/// with `?id=`, counting one hit of the per-IP flow creation limit first: a limited client
/// gets the error page rendered directly (429), and nothing is stored.
pub async fn forward_to_error_ui(
    reg: &Registry,
    req: &HttpRequest,
    err: &ApiError,
) -> HttpResponse {
    let ip = crate::http::client_ip::client_ip(req, &reg.trusted_proxies);
    match reg
        .limiter
        .hit(Rule::FlowCreatePerIp, &ip_subject(ip), now())
        .await
    {
        Ok(Ok(())) => store_and_redirect(reg, err).await,
        Ok(Err(limited)) => {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
                .id("self_service_rate_limited")
                .reason("Too many requests. Please wait before trying again.");
            e.retry_after = Some(limited.retry_after.as_secs().max(1));
            render_error(reg, req, &e)
        }
        Err(e) => ApiError::from(ServiceError::from(e)).error_response(),
    }
}

/// Stores `err` and redirects to the error UI. When the error cannot be stored, the JSON
/// error itself is the answer.
async fn store_and_redirect(reg: &Registry, err: &ApiError) -> HttpResponse {
    let id = match reg.errors.keep(err.body()["error"].clone(), now()).await {
        Ok(id) => id,
        Err(e) => return crate::http::flows::errors::api_error(reg, e).error_response(),
    };
    let ui = reg
        .settings
        .selfservice
        .flows
        .error
        .ui_url
        .clone()
        .unwrap_or_else(|| format!("{}ui/error", reg.urls.public));
    let sep = if ui.contains('?') { '&' } else { '?' };
    let mut resp = see_other(&format!("{ui}{sep}id={id}"));
    // A limit's wait stays visible to clients that read headers on the redirect.
    if let Some(secs) = err.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `err` as the error page, with its own status, storing nothing.
pub fn render_error(reg: &Registry, req: &HttpRequest, err: &ApiError) -> HttpResponse {
    let page = Page::new(reg, req);
    let body = err.body();
    let model = model(&page, &body["error"]);
    let title = page.text("error_title");
    match page.render(reg, err.status, "error", &title, model) {
        Ok(mut resp) => {
            if let Some(secs) = err.retry_after
                && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        Err(_) => err.error_response(),
    }
}

/// The page model of an error object: the catalogue's text for its id, else its reason,
/// else the catalogue's text for its code, else its message.
fn model(page: &Page<'_>, e: &Value) -> Value {
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
    json!({"message": message, "code": code, "error_id": id})
}

#[derive(Deserialize)]
pub(super) struct IdQuery {
    id: Option<String>,
}

/// `{id, error, created_at, updated_at}` of the stored error `id` names.
async fn load(reg: &Registry, id: Option<&str>) -> Result<Option<Value>, ApiError> {
    let Some(id) = id.and_then(|s| Uuid::parse_str(s).ok()) else {
        return Ok(None);
    };
    reg.errors
        .find(id)
        .await
        .map_err(|e| crate::http::flows::errors::api_error(reg, e))
}

/// `GET /self-service/errors?id=` → `{id, error, created_at, updated_at}`.
pub(super) async fn get_error(
    reg: web::Data<Registry>,
    q: web::Query<IdQuery>,
) -> Result<HttpResponse, ApiError> {
    let e = load(&reg, q.id.as_deref())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(e))
}

/// `GET /ui/error?id=`: the stored error in plain words.
pub(super) async fn page(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<IdQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::new(&reg, &req);
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
    let model = model(&page, &stored["error"]);
    page.render(
        &reg,
        StatusCode::OK,
        "error",
        &page.text("error_title"),
        model,
    )
}
