//! Verification failures as Kratos's error envelopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::flow::FlowType;
use crate::flow::verification::{VerificationError, VerificationFlow};
use crate::http::ApiError;
use crate::http::negotiate::is_json_request;
use crate::startup::Registry;

pub(super) fn expired_flow_error(reg: &Registry, flow: &VerificationFlow) -> ApiError {
    let public = reg.urls.public.as_str();
    let (reason, details) = match flow.kind {
        FlowType::Browser => {
            let mut redirect = format!("{public}self-service/verification/browser");
            if let Some(r) = &flow.return_to {
                redirect.push_str(&format!(
                    "?return_to={}",
                    url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
                ));
            }
            (
                "The verification flow has expired. Redirect the user to the verification flow init endpoint to initialize a new verification flow.",
                json!({"redirect_to": redirect, "return_to": flow.return_to}),
            )
        }
        FlowType::Api => (
            "The verification flow has expired. Call the verification flow init API endpoint to initialize a new verification flow.",
            json!({"api": format!("{public}self-service/verification/api")}),
        ),
    };
    ApiError::new(StatusCode::GONE)
        .reason(reason)
        .details(details)
}

/// Errors outside a flow's form go to the error UI for browser (non-JSON) requests, as
/// JSON to everyone else. A malformed request (400 without an error id, such as a missing
/// `flow` parameter) is shown as the error page at once: nothing is stored for it.
pub(super) async fn for_browser(
    reg: &Registry,
    req: &HttpRequest,
    e: ApiError,
) -> Result<HttpResponse, ApiError> {
    if is_json_request(req) {
        Err(e)
    } else if e.status == StatusCode::BAD_REQUEST && e.id.is_none() {
        Ok(crate::http::ui::render_error(reg, req, &e))
    } else {
        Ok(crate::http::ui::forward_to_error_ui(reg, req, &e).await)
    }
}

pub(super) fn csrf_error(reject_reason: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN)
        .id("security_csrf_violation")
        .message("the request was rejected to protect you from Cross-Site-Request-Forgery")
        .reason("Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.")
        .details(json!({"reject_reason": reject_reason, "docs": "https://www.ory.sh/docs/kratos/debug/csrf"}))
}

pub(super) fn error(e: VerificationError) -> ApiError {
    match e {
        VerificationError::Disabled | VerificationError::StrategyDisabled(_) => {
            ApiError::bad_request(e.to_string())
        }
        VerificationError::NotFound => ApiError::not_found(),
        VerificationError::ReturnTo(r) => {
            ApiError::bad_request(r.to_string()).id("self_service_flow_return_to_forbidden")
        }
        VerificationError::Csrf(reason) => csrf_error(reason),
        VerificationError::RateLimited(after) => {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
                .id("self_service_rate_limited")
                .reason("Too many requests. Please wait before trying again.");
            e.retry_after = Some(after.as_secs().max(1));
            e
        }
        VerificationError::Courier(c) => {
            tracing::error!(error = %c, "composing a verification message failed");
            ApiError::internal()
        }
        VerificationError::Store(s) => s.into(),
    }
}
