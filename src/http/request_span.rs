//! The root span of every request, like tracing-actix-web's default but with the secret
//! values of the query string (`code`, `token`, ...) replaced: links from messages and the
//! logout URL carry codes and tokens in the query, and request logs must not. Each request ends
//! with one `completed handling request` line (Kratos's request log), except health checks
//! when `serve.<port>.request_log.disable_for_health` is set.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

const SECRET_PARAMS: [&str; 5] = ["code", "token", "password", "session_token", "csrf_token"];

pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        super::base_url::observe(request);
        if quiet_health(request) {
            return Span::none();
        }
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redact(request.uri()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !span.is_none() {
            let status = match outcome {
                Ok(res) => res.status().as_u16(),
                Err(e) => e.as_response_error().status_code().as_u16(),
            };
            // Kratos's request log line; `request_log.disable_for_health` silences health checks.
            span.in_scope(|| {
                tracing::info!(http.status_code = status, "completed handling request")
            });
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// `serve.<port>.request_log.disable_for_health`: no span, so no log line, for health checks.
fn quiet_health(request: &ServiceRequest) -> bool {
    if !matches!(request.path(), "/health/alive" | "/health/ready") {
        return false;
    }
    let Some(reg) = request.app_data::<actix_web::web::Data<crate::http::AppState>>() else {
        return false;
    };
    let serve = &reg.settings.serve;
    match request.app_data::<super::openapi::Api>() {
        Some(super::openapi::Api::Admin) => serve.admin.request_log.disable_for_health,
        _ => serve.public.request_log.disable_for_health,
    }
}

/// The path and query with every secret parameter's value replaced by `[REDACTED]`.
fn redact(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if SECRET_PARAMS.contains(&k.as_ref()) {
            out.append_pair(&k, "[REDACTED]");
        } else {
            out.append_pair(&k, &v);
        }
    }
    format!("{}?{}", uri.path(), out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_replaced() {
        let uri: Uri = "/self-service/verification?flow=f1&code=123456"
            .parse()
            .unwrap();
        assert_eq!(
            redact(&uri),
            "/self-service/verification?flow=f1&code=%5BREDACTED%5D"
        );
        let uri: Uri = "/self-service/logout?token=ory_lo_secret&return_to=%2Fui%2F"
            .parse()
            .unwrap();
        let out = redact(&uri);
        assert!(
            !out.contains("ory_lo_secret") && out.contains("return_to=%2Fui%2F"),
            "{out}"
        );
        assert_eq!(redact(&"/health/alive".parse().unwrap()), "/health/alive");
    }
}
