//! What the login, registration, settings and session endpoints share: request parsing,
//! cookies, the current session, and turning flow outcomes and errors into responses.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::flow::FlowType;
use crate::flow::env::{Done, FormError, FormOutcome};
use crate::flow::form::FormFlow;
use crate::flow::verification::{BrowserSignal, SubmitContext};
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::identity::Identity;
use crate::session::{DeviceInfo, Session};
use crate::startup::Registry;

pub(super) use super::verification_errors::csrf_error;

/// The request's URL built from the configured base URL, never from `Host`.
pub(super) fn request_url(reg: &Registry, req: &HttpRequest) -> String {
    let base = reg.urls.public.as_str().trim_end_matches('/');
    match req.query_string() {
        "" => format!("{base}{}", req.path()),
        q => format!("{base}{}?{q}", req.path()),
    }
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn csrf_cookie_name(reg: &Registry) -> String {
    crate::csrf::cookie_name(reg.urls.public.as_str())
}

pub(super) fn csrf_from_cookie(reg: &Registry, req: &HttpRequest) -> Option<String> {
    req.cookie(&csrf_cookie_name(reg))
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
}

fn secure(reg: &Registry) -> bool {
    reg.settings.cookies.secure.unwrap_or(!reg.dev)
}

fn same_site(reg: &Registry, configured: Option<crate::config::SameSite>) -> SameSite {
    match configured.unwrap_or(reg.settings.cookies.same_site) {
        crate::config::SameSite::Strict => SameSite::Strict,
        crate::config::SameSite::None if secure(reg) => SameSite::None,
        _ => SameSite::Lax,
    }
}

pub(super) fn csrf_cookie(reg: &Registry, token: String) -> Cookie<'static> {
    let cfg = &reg.settings.cookies;
    let mut c = Cookie::build(csrf_cookie_name(reg), token)
        .path(cfg.path.clone())
        .http_only(true)
        .secure(secure(reg))
        .same_site(same_site(reg, None))
        .max_age(CookieDuration::days(365))
        .finish();
    if let Some(d) = &cfg.domain {
        c.set_domain(d.clone());
    }
    c
}

/// The answer to a browser flow's init: the flow's JSON for a SPA, else a 303 to its UI; the
/// CSRF cookie is set when the browser did not have one (`new_token`).
pub(super) fn browser_init(
    reg: &Registry,
    req: &HttpRequest,
    flow_json: impl FnOnce() -> Value,
    ui_location: &str,
    new_token: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let mut resp = if is_json_request(req) {
        HttpResponse::Ok().json(flow_json())
    } else {
        see_other(ui_location)
    };
    if let Some(token) = new_token {
        resp.add_cookie(&csrf_cookie(reg, token))
            .map_err(|_| ApiError::internal())?;
    }
    Ok(resp)
}

/// `ory_kratos_session`: HttpOnly, Secure outside `--dev`, SameSite=Lax unless configured.
pub(super) fn session_cookie(reg: &Registry, token: &str, session: &Session) -> Cookie<'static> {
    let cfg = &reg.settings.session.cookie;
    let mut c = Cookie::build(cfg.name.clone(), token.to_owned())
        .path(
            cfg.path
                .clone()
                .unwrap_or_else(|| reg.settings.cookies.path.clone()),
        )
        .http_only(true)
        .secure(secure(reg))
        .same_site(same_site(reg, cfg.same_site))
        .finish();
    if cfg.persistent {
        let secs = (session.expires_at - now()).num_seconds().max(0);
        c.set_max_age(CookieDuration::seconds(secs));
    }
    if let Some(d) = cfg
        .domain
        .clone()
        .or_else(|| reg.settings.cookies.domain.clone())
    {
        c.set_domain(d);
    }
    c
}

/// A cookie that deletes the session cookie.
pub(super) fn expired_session_cookie(reg: &Registry) -> Cookie<'static> {
    let mut c = session_cookie(reg, "", &dummy_session());
    c.make_removal();
    c
}

fn dummy_session() -> Session {
    let t = now();
    Session {
        id: uuid::Uuid::nil(),
        identity_id: uuid::Uuid::nil(),
        active: false,
        aal: "aal1".into(),
        authentication_methods: Vec::new(),
        devices: Vec::new(),
        authenticated_at: t,
        issued_at: t,
        expires_at: t,
    }
}

/// The session token a request presents: `X-Session-Token`, `Authorization: Bearer`, or the
/// session cookie, in that order.
pub(super) fn presented_token(reg: &Registry, req: &HttpRequest) -> Option<String> {
    let header_token = req
        .headers()
        .get("X-Session-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bearer = || {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned())
    };
    let cookie = || {
        req.cookie(&reg.settings.session.cookie.name)
            .map(|c| c.value().to_owned())
    };
    header_token
        .or_else(bearer)
        .or_else(cookie)
        .filter(|t| !t.is_empty())
}

pub(super) async fn current_session(
    reg: &Registry,
    req: &HttpRequest,
) -> Result<Option<(Session, Identity)>, ApiError> {
    match presented_token(reg, req) {
        Some(t) => Ok(reg.sessions.lookup(&t, now()).await?),
        None => Ok(None),
    }
}

pub(super) fn device(reg: &Registry, req: &HttpRequest) -> DeviceInfo {
    DeviceInfo {
        ip_address: Some(crate::http::client_ip::client_ip(req, &reg.trusted_proxies).to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// An `Origin` header or any cookie but Cloudflare's marks a browser (Kratos's EnsureCSRF).
pub(super) fn browser_signal(req: &HttpRequest) -> Option<BrowserSignal> {
    if req.headers().contains_key(header::ORIGIN) {
        return Some(BrowserSignal::Origin);
    }
    let cookies = req.cookies().ok()?;
    cookies
        .iter()
        .any(|c| {
            !["__cf", "_cf", "cf_"]
                .iter()
                .any(|p| c.name().starts_with(p))
        })
        .then_some(BrowserSignal::Cookie)
}

pub(super) fn submit_context(reg: &Registry, req: &HttpRequest) -> SubmitContext {
    SubmitContext {
        is_get: false,
        csrf_cookie: csrf_from_cookie(reg, req),
        browser_signal: browser_signal(req),
        client: Some(crate::ratelimit::ip_subject(
            crate::http::client_ip::client_ip(req, &reg.trusted_proxies),
        )),
    }
}

/// Body fields (JSON or form) with the query's fields filling the gaps, as Kratos decodes.
pub(super) fn parse_fields(
    req: &HttpRequest,
    body: &[u8],
    query: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut fields: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else if media == "application/json" {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
        })?
    } else if media == "application/x-www-form-urlencoded" {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    } else {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .reason("Send the form as application/json or application/x-www-form-urlencoded."));
    };
    for (k, v) in query {
        fields.entry(k).or_insert(v);
    }
    if let Some(Value::String(tp)) = fields.get("transient_payload") {
        let parsed = serde_json::from_str::<Value>(tp).unwrap_or(Value::Null);
        fields.insert("transient_payload".into(), parsed);
    }
    Ok(fields)
}

pub(super) fn parse_flow_id(raw: Option<&str>) -> Result<uuid::Uuid, ApiError> {
    raw.and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::bad_request("The flow query parameter is missing or malformed."))
}

/// Per-IP limit on creating flows, before any work is done.
pub(super) async fn limit_flow_creation(reg: &Registry, req: &HttpRequest) -> Result<(), ApiError> {
    let client =
        crate::ratelimit::ip_subject(crate::http::client_ip::client_ip(req, &reg.trusted_proxies));
    match reg
        .limiter
        .hit(crate::ratelimit::Rule::FlowCreatePerIp, &client, now())
        .await?
    {
        Ok(()) => Ok(()),
        Err(limited) => Err(form_error(reg, FormError::RateLimited(limited.retry_after))),
    }
}

/// Flow errors as Kratos's envelopes.
pub(super) fn form_error(_reg: &Registry, e: FormError) -> ApiError {
    match e {
        FormError::Disabled(reason) => ApiError::bad_request(reason).id("self_service_flow_disabled"),
        FormError::NotFound => ApiError::not_found(),
        FormError::ReturnTo(r) => {
            ApiError::bad_request(r.to_string()).id("self_service_flow_return_to_forbidden")
        }
        FormError::Csrf(reason) => csrf_error(reason),
        FormError::RateLimited(after) => {
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
                .id("self_service_rate_limited")
                .reason("Too many requests. Please wait before trying again.");
            e.retry_after = Some(after.as_secs().max(1));
            e
        }
        FormError::Overloaded => {
            let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE)
                .reason("The server is busy checking passwords. Please try again in a moment.");
            e.retry_after = Some(1);
            e
        }
        FormError::SessionAlreadyAvailable => ApiError::bad_request("A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?")
            .id("session_already_available")
            .message("you are already logged in"),
        FormError::NoSession => ApiError::new(StatusCode::UNAUTHORIZED)
            .id("session_inactive")
            .message("request does not have a valid authentication session")
            .reason("No active session was found in this request."),
        FormError::IdentityMismatch => ApiError::new(StatusCode::FORBIDDEN)
            .id("security_identity_mismatch")
            .reason("The request was initiated by someone else and has been blocked for security reasons. Please go back and try again."),
        FormError::RefreshRequired { login_url } => {
            let mut e = ApiError::new(StatusCode::FORBIDDEN)
                .id("session_refresh_required")
                .message("The login session is too old and thus not allowed to update these fields. Please re-authenticate.")
                .reason("The login session is too old and thus not allowed to update these fields. Please re-authenticate.");
            e.extra.insert("redirect_browser_to".into(), json!(login_url));
            e
        }
        // Answered by `respond_error`, which knows the request.
        FormError::VerifiedAddressRequired { .. } => ApiError::internal(),
        FormError::NoVerifiableAddress => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR)
            .id("invalid_configuration")
            .message("Invalid configuration")
            .reason(FormError::NoVerifiableAddress.to_string()),
        FormError::Hook(reason) => ApiError::bad_request(reason),
        FormError::BrowserLocationChange(to) => {
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY)
                .id("browser_location_change_required")
                .message("browser location change required")
                .reason(format!(
                    "In order to complete this flow please redirect the browser to: {to}"
                ));
            e.extra.insert("redirect_browser_to".into(), json!(to));
            e
        }
        FormError::Verification(v) => super::verification_errors::error(v),
        FormError::Courier(c) => {
            tracing::error!(error = %c, "composing a message failed");
            ApiError::internal()
        }
        FormError::Store(s) => s.into(),
    }
}

/// An error for this request: `require_verified_address` becomes 403 JSON (body code 400,
/// as Kratos sends it) or a 303 to the verification UI; a browser that must sign in again
/// goes to the login; CSRF, rate-limit and unavailability errors of plain browser requests go
/// to the error UI; everything else is its envelope.
pub(super) async fn respond_error(reg: &Registry, req: &HttpRequest, e: FormError) -> HttpResponse {
    let browser = !is_json_request(req) && !req.path().ends_with("/api");
    if let FormError::BrowserLocationChange(to) = &e
        && !is_json_request(req)
    {
        return see_other(to);
    }
    if let FormError::RefreshRequired { login_url } = &e
        && browser
    {
        return see_other(login_url);
    }
    if let FormError::VerifiedAddressRequired {
        continue_with,
        location,
        ..
    } = &e
    {
        if !is_json_request(req) {
            return see_other(location);
        }
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
    let err = form_error(reg, e);
    let for_error_ui = err.id == Some("security_csrf_violation")
        || matches!(
            err.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
    if browser && for_error_ui {
        return crate::http::ui::forward_to_error_ui(reg, req, &err).await;
    }
    actix_web::ResponseError::error_response(&err)
}

/// 410 `self_service_flow_expired` pointing at the new flow.
pub(super) fn expired(new: &FormFlow, expired_at: chrono::DateTime<chrono::Utc>) -> HttpResponse {
    let e = expired_error("self-service", true, expired_at, Some(new.id));
    actix_web::ResponseError::error_response(&e)
}

/// 410 "The <subject> flow expired N minutes ago": with `id` `self_service_flow_expired`
/// when `with_id` (Kratos leaves it out for verification and settings reads), and, when a
/// new flow replaces the expired one, its `use_flow_id` and the `since` nanoseconds.
pub(super) fn expired_error(
    subject: &str,
    with_id: bool,
    expired_at: chrono::DateTime<chrono::Utc>,
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

/// The JSON of a finished login or registration (Kratos's `successfulNative*`), with the
/// session token only for api flows.
pub(super) fn done_json(reg: &Registry, done: &Done) -> Value {
    let identity = crate::http::admin::identity_json(
        &done.identity,
        &reg.urls.public,
        reg.settings.identity.verified_rule,
        &[],
        false,
    );
    let mut body = json!({"identity": identity});
    if let Some(s) = &done.session {
        body["session"] = s.session.to_json(None);
        body["session"]["identity"] = body["identity"].clone();
        if done.flow.flow_type == FlowType::Api {
            body["session_token"] = json!(s.token.expose());
        }
    }
    if !done.continue_with.is_empty() {
        body["continue_with"] = json!(done.continue_with);
    }
    body
}

pub(super) fn identity_for_session(reg: &Registry, identity: &Identity) -> Value {
    crate::http::admin::identity_json(
        identity,
        &reg.urls.public,
        reg.settings.identity.verified_rule,
        &[],
        false,
    )
}

/// Turns a login or registration outcome into its response.
pub(super) fn respond(
    reg: &Registry,
    req: &HttpRequest,
    outcome: FormOutcome,
    ui_location: impl Fn(uuid::Uuid) -> String,
) -> HttpResponse {
    let json = is_json_request(req);
    match outcome {
        FormOutcome::Show { flow, status } if json => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .json(flow.to_json())
        }
        FormOutcome::Show { flow, .. } => see_other(&ui_location(flow.id)),
        FormOutcome::Expired { new, expired_at } if json => expired(&new, expired_at),
        FormOutcome::Expired { new, .. } => see_other(&ui_location(new.id)),
        FormOutcome::Done(done) => {
            let mut resp = if json {
                HttpResponse::Ok().json(done_json(reg, &done))
            } else {
                see_other(&done.redirect)
            };
            if let (Some(s), FlowType::Browser) = (&done.session, done.flow.flow_type)
                && resp
                    .add_cookie(&session_cookie(reg, s.token.expose(), &s.session))
                    .is_err()
            {
                return HttpResponse::InternalServerError().finish();
            }
            resp
        }
    }
}
