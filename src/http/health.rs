//! `/health/alive`, `/health/ready` and `/version`, on both ports.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::AppState as Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/alive", web::get().to(alive))
        .route("/health/ready", web::get().to(ready))
        .route("/version", web::get().to(version));
}

async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready means the database answers and no shutdown has begun.
async fn ready(reg: web::Data<Registry>) -> HttpResponse {
    if reg.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"errors": {"server": "shutting down"}}));
    }
    match reg.database.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({"errors": {"database": "the database is not ready"}}))
        }
    }
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().json(json!({"version": env!("CARGO_PKG_VERSION")}))
}
