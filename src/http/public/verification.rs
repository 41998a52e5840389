//! `/self-service/verification*`: thin adapters over `flow::verification`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::flow::FlowType;
use crate::flow::verification::{BrowserSignal, SubmitContext};
use crate::flow::verification::{Outcome, Submission, VerificationError, VerificationFlow};
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::startup::Registry;

use super::verification_errors::{csrf_error, error, expired_flow_error};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/verification/browser",
        web::get().to(init_browser),
    )
    .route("/self-service/verification/api", web::get().to(init_api))
    .route("/self-service/verification/flows", web::get().to(get_flow))
    .route("/self-service/verification", web::post().to(submit))
    .route("/self-service/verification", web::get().to(submit));
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
}

fn request_url(reg: &Registry, req: &HttpRequest) -> String {
    // Built from the configured base URL, never from Host.
    let base = reg.urls.public.as_str().trim_end_matches('/');
    match req.query_string() {
        "" => format!("{base}{}", req.path()),
        q => format!("{base}{}?{q}", req.path()),
    }
}

fn csrf_cookie_name(reg: &Registry) -> String {
    crate::csrf::cookie_name(reg.urls.public.as_str())
}

fn csrf_from_cookie(reg: &Registry, req: &HttpRequest) -> Option<String> {
    req.cookie(&csrf_cookie_name(reg))
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
}

fn csrf_cookie(reg: &Registry, token: String) -> Cookie<'static> {
    let cfg = &reg.settings.cookies;
    let secure = cfg.secure.unwrap_or(!reg.dev);
    let same_site = match cfg.same_site {
        crate::config::SameSite::Strict => SameSite::Strict,
        crate::config::SameSite::None if secure => SameSite::None,
        _ => SameSite::Lax,
    };
    let mut c = Cookie::build(csrf_cookie_name(reg), token)
        .path(cfg.path.clone())
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .max_age(CookieDuration::days(365))
        .finish();
    if let Some(d) = &cfg.domain {
        c.set_domain(d.clone());
    }
    c
}

/// Per-IP limit on creating flows, before any work is done.
async fn limit_flow_creation(reg: &Registry, req: &HttpRequest) -> Result<(), ApiError> {
    let client =
        crate::ratelimit::ip_subject(crate::http::client_ip::client_ip(req, &reg.trusted_proxies));
    match reg
        .limiter
        .hit(crate::ratelimit::Rule::FlowCreatePerIp, &client, now())
        .await?
    {
        Ok(()) => Ok(()),
        Err(limited) => Err(error(VerificationError::RateLimited(limited.retry_after))),
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn init_browser(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    limit_flow_creation(&reg, &req).await?;
    let existing = csrf_from_cookie(&reg, &req);
    let token = existing.clone().unwrap_or_else(crate::csrf::new_token);
    let flow = reg
        .verification
        .create(
            FlowType::Browser,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            token.clone(),
            now(),
        )
        .await
        .map_err(error)?;
    let mut resp = if is_json_request(&req) {
        HttpResponse::Ok().json(flow.to_json())
    } else {
        see_other(&reg.verification.ui_location(flow.id))
    };
    if existing.is_none() {
        resp.add_cookie(&csrf_cookie(&reg, token))
            .map_err(|_| ApiError::internal())?;
    }
    Ok(resp)
}

async fn init_api(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    limit_flow_creation(&reg, &req).await?;
    let flow = reg
        .verification
        .create(
            FlowType::Api,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            String::new(),
            now(),
        )
        .await
        .map_err(error)?;
    Ok(HttpResponse::Ok().json(flow.to_json()))
}

#[derive(Deserialize)]
struct FlowQuery {
    id: Option<String>,
}

async fn get_flow(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    if !reg.verification.enabled() {
        return Err(error(VerificationError::Disabled));
    }
    let id =
        q.id.as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(ApiError::not_found)?;
    let flow = reg.verification.get(id).await.map_err(|e| match e {
        VerificationError::NotFound => ApiError::not_found(),
        other => error(other),
    })?;
    if flow.kind == FlowType::Browser {
        let cookie = csrf_from_cookie(&reg, &req);
        if !cookie.is_some_and(|c| crate::csrf::verify(&flow.csrf_token, &c)) {
            return Err(csrf_error(
                "the CSRF cookie is missing or does not belong to this flow",
            ));
        }
    }
    let now = now();
    if flow.is_expired(now) {
        return Err(expired_flow_error(&reg, &flow));
    }
    Ok(HttpResponse::Ok().json(flow.to_json()))
}

#[derive(Deserialize)]
struct SubmitQuery {
    flow: Option<String>,
    #[serde(flatten)]
    fields: serde_json::Map<String, Value>,
}

/// Body fields (JSON or form) with the query's fields filling the gaps, as Kratos decodes.
fn parse_submission(
    req: &HttpRequest,
    body: &[u8],
    query: serde_json::Map<String, Value>,
) -> Result<Submission, ApiError> {
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
    let mut fields: serde_json::Map<String, Value> = if body.is_empty() {
        serde_json::Map::new()
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
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid: {e}")))
}

async fn submit(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<SubmitQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let id = q
        .flow
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| {
            ApiError::bad_request("The flow query parameter is missing or malformed.")
        })?;
    let submission = parse_submission(&req, &body, q.fields)?;
    let is_get = req.method() == actix_web::http::Method::GET;
    let existing = csrf_from_cookie(&reg, &req);
    // A link from a message may be opened in a browser without our cookie: it gets one, and
    // the flow is bound to it (Kratos regenerates the token on link clicks).
    let fresh = (is_get && existing.is_none()).then(crate::csrf::new_token);
    let ctx = SubmitContext {
        is_get,
        csrf_cookie: existing.or_else(|| fresh.clone()),
        browser_signal: browser_signal(&req),
        client: Some(crate::ratelimit::ip_subject(
            crate::http::client_ip::client_ip(&req, &reg.trusted_proxies),
        )),
    };
    let outcome = reg
        .verification
        .submit(id, submission, ctx, now())
        .await
        .map_err(|e| match e {
            VerificationError::NotFound => ApiError::not_found()
                .reason("The verification request could not be found. Please restart the flow."),
            other => error(other),
        })?;
    let mut resp = respond(&reg, &req, outcome);
    if let Some(token) = fresh {
        resp.add_cookie(&csrf_cookie(&reg, token))
            .map_err(|_| ApiError::internal())?;
    }
    Ok(resp)
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

fn respond(reg: &Registry, req: &HttpRequest, outcome: Outcome) -> HttpResponse {
    let json = is_json_request(req);
    let svc = &reg.verification;
    match outcome {
        Outcome::Show { flow, status } if json => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .json(flow.to_json())
        }
        Outcome::Show { flow, .. } | Outcome::LinkRedirect { flow } => {
            if json && flow.state == crate::flow::verification::State::PassedChallenge {
                return HttpResponse::Ok().json(flow.to_json());
            }
            see_other(&svc.ui_location(flow.id))
        }
        Outcome::Replaced { new } if json => {
            replaced(&new, "An error occured, please retry the flow.")
        }
        Outcome::Completed { new } if json => {
            replaced(&new, "An error occured, please use the new flow.")
        }
        Outcome::Restarted { new } if new.kind == FlowType::Api => see_other(&format!(
            "{}self-service/verification/flows?id={}",
            reg.urls.public, new.id
        )),
        Outcome::CodeExpired { new, expired_at } if json => {
            let since = (now() - expired_at).num_nanoseconds().unwrap_or(i64::MAX);
            let minutes = since as f64 / 60e9;
            let mut e = ApiError::new(StatusCode::GONE)
                .id("self_service_flow_expired")
                .message("self-service flow expired")
                .reason(format!(
                    "The self-service flow expired {minutes:.2} minutes ago, initialize a new one."
                ));
            e.extra.insert("use_flow_id".into(), json!(new.id));
            e.extra.insert("expired_at".into(), json!(expired_at));
            e.extra.insert("since".into(), json!(since));
            actix_web::ResponseError::error_response(&e)
        }
        Outcome::FlowExpired { new } if json || new.kind == FlowType::Api => see_other(&format!(
            "{}self-service/verification/flows?id={}",
            reg.urls.public, new.id
        )),
        Outcome::Replaced { new }
        | Outcome::Completed { new }
        | Outcome::Restarted { new }
        | Outcome::CodeExpired { new, .. }
        | Outcome::FlowExpired { new } => see_other(&svc.ui_location(new.id)),
    }
}

/// 410 `self_service_flow_replaced` pointing at the new flow.
fn replaced(new: &VerificationFlow, reason: &'static str) -> HttpResponse {
    let mut e = ApiError::new(StatusCode::GONE)
        .id("self_service_flow_replaced")
        .message("self-service flow replaced")
        .reason(reason);
    e.extra.insert("use_flow_id".into(), json!(new.id));
    actix_web::ResponseError::error_response(&e)
}
