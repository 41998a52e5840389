//! `/self-service/verification*`: thin adapters over `flow::verification`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::flow::FlowType;
use crate::flow::verification::SubmitContext;
use crate::flow::verification::{Outcome, Submission, VerificationError, VerificationFlow};
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::startup::Registry;

use super::forms::{
    browser_init, browser_signal, csrf_cookie, csrf_from_cookie, limit_flow_creation, request_url,
    see_other,
};
use super::verification_errors::{csrf_error, error, expired_flow_error, for_browser};

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
        .await;
    let flow = match flow {
        Ok(f) => f,
        Err(e @ VerificationError::Disabled) => return for_browser(&reg, &req, error(e)).await,
        Err(e) => return Err(error(e)),
    };
    browser_init(
        &reg,
        &req,
        || flow.to_json(),
        &reg.verification.ui_location(flow.id),
        existing.is_none().then_some(token),
    )
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
        return for_browser(&reg, &req, error(VerificationError::Disabled)).await;
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
    let fields = super::forms::parse_fields(req, body, query)?;
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
    let Some(id) = q.flow.as_deref().and_then(|s| Uuid::parse_str(s).ok()) else {
        let e = ApiError::bad_request("The flow query parameter is missing or malformed.");
        return for_browser(&reg, &req, e).await;
    };
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
    let outcome = reg.verification.submit(id, submission, ctx, now()).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(VerificationError::NotFound) => {
            return Err(ApiError::not_found()
                .reason("The verification request could not be found. Please restart the flow."));
        }
        Err(e @ VerificationError::Csrf(_)) => return for_browser(&reg, &req, error(e)).await,
        Err(other) => return Err(error(other)),
    };
    let mut resp = respond(&reg, &req, outcome);
    if let Some(token) = fresh {
        resp.add_cookie(&csrf_cookie(&reg, token))
            .map_err(|_| ApiError::internal())?;
    }
    Ok(resp)
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
            let e = super::forms::expired_error("self-service", true, expired_at, Some(new.id));
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
