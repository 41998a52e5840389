//! `GET /metrics` (and Kratos's `/metrics/prometheus`) on the admin port, and the middleware
//! that counts every request by its route template, never by its raw path.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::http::AppState as Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape))
        .route("/metrics/prometheus", web::get().to(scrape));
}

/// Requests that match no route are counted under this one label value.
const UNMATCHED: &str = "unmatched";

/// Counts one request of `api` (`public` or `admin`) with its latency.
pub async fn track(
    api: &'static str,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let method = req.method().clone();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    crate::metrics::http_request(
        api,
        known_method(&method),
        route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// Methods outside HTTP's standard set (any token is a valid method) share one label value.
fn known_method(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *m {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Sets the scrape-time gauges from this node's view, then renders the process's registry.
async fn scrape(reg: web::Data<Registry>) -> HttpResponse {
    crate::metrics::pool_usage(reg.database.pool_usage());
    let up = match reg.outbox.backlog(super::now()).await {
        Ok(backlog) => {
            crate::metrics::courier_backlog(&backlog);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "the courier backlog could not be read for /metrics");
            false
        }
    };
    metrics::gauge!("verity_db_up").set(if up { 1.0 } else { 0.0 });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}
