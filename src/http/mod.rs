//! The HTTP adapters: the public router (port 4433) and the admin router (port 4434).
//! Only this layer knows actix, status codes and content negotiation.

pub mod admin;
pub mod admin_hosts;
pub mod base_url;
pub mod clean_path;
pub mod client_ip;
pub mod cors;
pub mod drain;
pub mod error;
pub mod fetch_metadata;
pub mod flows;
mod health;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
mod request_span;
pub use request_span::RedactedRootSpan;
mod pagination;
pub mod protect;
mod public;
pub mod query;
mod schemas;
pub mod slow_clients;
mod state;
pub mod ui;
pub mod wake_after;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub use error::ApiError;
pub use state::{AppState, Urls};

/// Routes of the public API.
pub fn public(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    schemas::configure(cfg);
    public::configure(cfg);
    ui::configure(cfg);
}

/// Routes of the admin API, under `/admin` and, as Kratos rewrites them, without the prefix.
pub fn admin(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    metrics::configure(cfg);
    openapi::configure(cfg);
    ui::configure_admin(cfg);
    admin::configure_redirects(cfg);
    cfg.service(web::scope("/admin").configure(admin::configure));
    admin::configure(cfg);
}

/// Body, query and path parsing errors in Kratos's JSON format.
pub fn extractor_config(
    body_limit: usize,
) -> (
    web::JsonConfig,
    web::QueryConfig,
    web::PathConfig,
    web::PayloadConfig,
) {
    let json = web::JsonConfig::default()
        .limit(body_limit)
        .error_handler(|err, _req| json_error(&err).into());
    let query = web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        ApiError::bad_request(format!("The query parameters are invalid: {err}")).into()
    });
    let path =
        web::PathConfig::default().error_handler(|_: PathError, _| ApiError::not_found().into());
    (json, query, path, web::PayloadConfig::new(body_limit))
}

fn json_error(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE)
                .reason("The request body is larger than the configured limit.")
        }
        JsonPayloadError::ContentType => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .reason("The request body must be sent with Content-Type: application/json."),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("The request body is not valid: {e}"))
        }
        other => ApiError::bad_request(format!("The request body could not be read: {other}")),
    }
}

/// Fallback for requests no route took: 405 with `Allow` when the path is served with other
/// methods (the route table in `openapi::routes` lists them, per port), else 404.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed_here(&req) {
        Some(methods) => Ok(refuse_method(&methods)),
        None => Err(ApiError::new(StatusCode::NOT_FOUND)),
    }
}

/// The default service of resources that list their methods: 405 with `Allow`.
pub(crate) async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    refuse_method(&allowed_here(&req).unwrap_or_default())
}

fn allowed_here(req: &HttpRequest) -> Option<Vec<&'static str>> {
    let port = req
        .app_data::<openapi::Api>()
        .copied()
        .unwrap_or(openapi::Api::Public);
    openapi::routes::allowed(port, req.path())
}

fn refuse_method(methods: &[&str]) -> HttpResponse {
    let err = ApiError::new(StatusCode::METHOD_NOT_ALLOWED)
        .reason(format!("This path answers only {}.", methods.join(", ")));
    let mut res = actix_web::ResponseError::error_response(&err);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
}

/// `Utc::now()` for handlers: the one place request time is read. Truncated to
/// microseconds, the precision both databases keep, so a response matches a later read.
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
