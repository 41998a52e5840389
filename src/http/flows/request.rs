//! What the flows need from an HTTP request: its facts (CSRF cookie, browser signals, client,
//! device, session) and the submitted fields.

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::cookies::csrf_from_cookie;
use crate::flow::core::{BrowserSignal, Request, SessionUse};
use crate::http::{ApiError, AppState, now};
use crate::identity::Identity;
use crate::service::ServiceError;
use crate::session::{DeviceInfo, Session};

/// The request's URL built from the configured base URL, never from `Host`.
pub fn request_url(st: &AppState, req: &HttpRequest) -> String {
    let base = st.urls.public.as_str().trim_end_matches('/');
    match req.query_string() {
        "" => format!("{base}{}", req.path()),
        q => format!("{base}{}?{q}", req.path()),
    }
}

/// The facts of `req`; the session is looked up only when the kind uses it.
pub async fn facts(
    st: &AppState,
    req: &HttpRequest,
    session: SessionUse,
) -> Result<Request, ServiceError> {
    let ip = crate::http::client_ip::client_ip(req, &st.trusted_proxies);
    let session = match session {
        SessionUse::Ignored => None,
        _ => current_session(st, req).await?,
    };
    Ok(Request {
        is_get: req.method() == actix_web::http::Method::GET,
        csrf_cookie: csrf_from_cookie(st, req),
        browser_signal: browser_signal(req),
        client: crate::ratelimit::ip_subject(ip),
        device: DeviceInfo {
            ip_address: Some(ip.to_string()),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
        session,
        device_marks: req
            .cookie(crate::ratelimit::lockout::DEVICE_COOKIE)
            .map(|c| c.value().to_owned()),
    })
}

/// An `Origin` header or any cookie but Cloudflare's marks a browser (Kratos's EnsureCSRF).
fn browser_signal(req: &HttpRequest) -> Option<BrowserSignal> {
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

/// The session token a request presents: `X-Session-Token`, `Authorization: Bearer`, or the
/// session cookie, in that order.
pub fn presented_token(st: &AppState, req: &HttpRequest) -> Option<String> {
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
        req.cookie(&st.settings.session.cookie.name)
            .map(|c| c.value().to_owned())
    };
    header_token
        .or_else(bearer)
        .or_else(cookie)
        .filter(|t| !t.is_empty())
}

pub async fn current_session(
    st: &AppState,
    req: &HttpRequest,
) -> Result<Option<(Session, Identity)>, ServiceError> {
    match presented_token(st, req) {
        Some(t) => st.sessions.lookup(&t, now()).await,
        None => Ok(None),
    }
}

/// Body fields (JSON or form) with the query's fields filling the gaps, as Kratos decodes.
pub fn parse_fields(
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
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Unable to decode JSON payload: {e}")))?
    } else if media == "application/x-www-form-urlencoded" {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    } else {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).reason(format!(
            "HTTP POST Request used unknown HTTP Header \"Content-Type: {content_type}\", only [application/json application/x-www-form-urlencoded] are supported."
        )));
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
