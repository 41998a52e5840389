//! While a node drains (`serve.drain` after SIGTERM), new requests get 503 with
//! `Retry-After: 1` and `Connection: close`: the balancer retries them elsewhere and marks the
//! node down before its listeners close. Requests already running finish.

use std::sync::atomic::Ordering;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::ApiError;
use crate::http::AppState as Registry;

pub async fn refuse_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let draining = req
        .app_data::<web::Data<Registry>>()
        .is_some_and(|r| r.draining.load(Ordering::Relaxed));
    // Readiness answers for itself: 503 with the reason.
    if !draining || req.path() == "/health/ready" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE)
        .reason("This node is shutting down; retry the request.");
    let mut res = err.error_response();
    let headers = res.headers_mut();
    headers.insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("1"),
    );
    headers.insert(
        actix_web::http::header::CONNECTION,
        actix_web::http::header::HeaderValue::from_static("close"),
    );
    Ok(req.into_response(res).map_into_right_body())
}
