//! Flow errors as answers: Kratos's JSON envelopes, the redirects a browser must follow, and
//! for browsers everything else forwarded to `selfservice.flows.error.ui_url` (`?id=` of
//! the stored error), as Kratos does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flow::core::{Flow, FlowError, FlowKind, FlowType};
use crate::http::negotiate::is_json_request;
use crate::http::ui::{forward_to_error_ui, see_other};
use crate::http::{ApiError, AppState, now};
use crate::service::ServiceError;

/// Whether `req` is answered as a browser page: not a JSON request, not an api flow.
pub fn is_browser(req: &HttpRequest, flow_type: Option<FlowType>) -> bool {
    !is_json_request(req) && flow_type != Some(FlowType::Api) && !req.path().ends_with("/api")
}

/// The answer to `e` for this request.
pub async fn respond_error(
    st: &AppState,
    req: &HttpRequest,
    e: FlowError,
    flow_type: Option<FlowType>,
) -> HttpResponse {
    let browser = is_browser(req, flow_type);
    match &e {
        FlowError::BrowserLocationChange(to) if !is_json_request(req) => return see_other(to),
        FlowError::RefreshRequired { login_url } if browser => return see_other(login_url),
        FlowError::VerifiedAddressRequired { location, .. } if browser => {
            return see_other(location);
        }
        FlowError::VerifiedAddressRequired { continue_with, .. } => {
            let body = json!({"error": {
                "id": "session_verified_address_required",
                "code": 400,
                "status": "Bad Request",
                "reason": "Your account's email or phone address are not verified yet. Please check your email or phone inbox or re-request verification.",
                "message": "your email or phone address is not yet verified",
                "details": {"continue_with": continue_with},
            }});
            return HttpResponse::Forbidden()
                .insert_header(("Ory-Error-Id", "session_verified_address_required"))
                .json(body);
        }
        FlowError::SessionAlreadyAvailable if browser => {
            return see_other(&st.settings.selfservice.default_browser_return_url);
        }
        FlowError::NoSession { back: Some(back) } if browser => {
            let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            let login = format!(
                "{}self-service/login/browser?return_to={back}",
                st.urls.public
            );
            return see_other(&login);
        }
        _ => {}
    }
    let err = api_error(st, e);
    if browser {
        return forward_to_error_ui(st, req, &err).await;
    }
    err.error_response()
}

/// `e` as Kratos's envelope.
pub fn api_error(st: &AppState, e: FlowError) -> ApiError {
    match e {
        FlowError::Disabled {
            kind: FlowKind::Verification | FlowKind::Recovery,
            reason,
        } => ApiError::bad_request(reason),
        FlowError::Disabled { reason, .. } => {
            ApiError::bad_request(reason).id("self_service_flow_disabled")
        }
        e @ FlowError::NotFound(_) => ApiError::not_found().reason(e.to_string()),
        e @ (FlowError::MalformedId | FlowError::BadRequest(_)) => {
            ApiError::bad_request(e.to_string())
        }
        FlowError::Expired(flow) => expired_read(st, &flow),
        FlowError::ReturnTo(r) => {
            ApiError::bad_request(r.to_string()).id("self_service_flow_return_to_forbidden")
        }
        FlowError::Csrf(reason) => csrf_error(reason),
        FlowError::RateLimited(after) => {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
                .id("self_service_rate_limited")
                .reason("Too many requests. Please wait before trying again.");
            e.retry_after = Some(after.as_secs().max(1));
            e
        }
        FlowError::Overloaded => {
            let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE)
                .reason("The server is busy checking passwords. Please try again in a moment.");
            e.retry_after = Some(1);
            e
        }
        FlowError::SessionAlreadyAvailable => ApiError::bad_request("A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?")
            .id("session_already_available")
            .message("you are already logged in"),
        FlowError::NoSession { .. } => ApiError::new(StatusCode::UNAUTHORIZED)
            .id("session_inactive")
            .message("request does not have a valid authentication session")
            .reason("No active session was found in this request."),
        FlowError::IdentityMismatch => ApiError::new(StatusCode::FORBIDDEN)
            .id("security_identity_mismatch")
            .reason("The request was initiated by someone else and has been blocked for security reasons. Please go back and try again."),
        FlowError::RefreshRequired { login_url } => {
            let mut e = ApiError::new(StatusCode::FORBIDDEN)
                .id("session_refresh_required")
                .message("The login session is too old and thus not allowed to update these fields. Please re-authenticate.")
                .reason("The login session is too old and thus not allowed to update these fields. Please re-authenticate.");
            e.extra.insert("redirect_browser_to".into(), json!(login_url));
            e
        }
        e @ FlowError::NoVerifiableAddress => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR)
            .id("invalid_configuration")
            .message("Invalid configuration")
            .reason(e.to_string()),
        FlowError::BrowserLocationChange(to) => {
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY)
                .id("browser_location_change_required")
                .message("browser location change required")
                .reason(format!(
                    "In order to complete this flow please redirect the browser to: {to}"
                ));
            e.extra.insert("redirect_browser_to".into(), json!(to));
            e
        }
        // Answered before this mapping is reached; a plain 403 if it ever is.
        FlowError::VerifiedAddressRequired { .. } => ApiError::new(StatusCode::FORBIDDEN),
        FlowError::Unavailable(s) => ServiceError::from(s).into(),
        FlowError::Unexpected(cause) => {
            tracing::error!(error = ?cause, "a flow failed unexpectedly");
            ApiError::internal()
        }
    }
}

pub fn csrf_error(reject_reason: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN)
        .id("security_csrf_violation")
        .message("the request was rejected to protect you from Cross-Site-Request-Forgery")
        .reason("Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.")
        .details(json!({"reject_reason": reject_reason, "docs": "https://www.ory.sh/docs/kratos/debug/csrf"}))
}

/// 410 for reading an expired flow: verification says where to start a new one; the others
/// say how long ago it expired (settings without an error id, as Kratos sends it).
fn expired_read(st: &AppState, flow: &Flow) -> ApiError {
    let subject = flow.kind.as_str();
    match flow.kind {
        FlowKind::Verification => expired_verification(st, flow),
        FlowKind::Settings => expired_error(subject, false, flow.expires_at, None),
        _ => expired_error(subject, true, flow.expires_at, None),
    }
}

fn expired_verification(st: &AppState, flow: &Flow) -> ApiError {
    let public = st.urls.public.as_str();
    let (reason, details) = match flow.flow_type {
        FlowType::Browser => {
            let mut redirect = format!("{public}self-service/verification/browser");
            if let Some(r) = &flow.return_to {
                redirect.push_str("?return_to=");
                redirect.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
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

/// 410 "The <subject> flow expired N minutes ago": with `id` `self_service_flow_expired`
/// when `with_id`, and, when a new flow replaces the expired one, its `use_flow_id` and the
/// `since` nanoseconds.
pub fn expired_error(
    subject: &str,
    with_id: bool,
    expired_at: DateTime<Utc>,
    replacement: Option<uuid::Uuid>,
) -> ApiError {
    let since = (now() - expired_at).num_nanoseconds().unwrap_or(i64::MAX);
    let minutes = since as f64 / 60e9;
    let mut e = ApiError::new(StatusCode::GONE)
        .message("self-service flow expired")
        .reason(format!(
            "The {subject} flow expired {minutes:.2} minutes ago, initialize a new one."
        ));
    if with_id {
        e = e.id("self_service_flow_expired");
    }
    e.extra.insert("expired_at".into(), json!(expired_at));
    if let Some(id) = replacement {
        e.extra.insert("use_flow_id".into(), json!(id));
        e.extra.insert("since".into(), json!(since));
    }
    e
}
