//! `/self-service/<kind>/browser|api|flows` and `POST /self-service/<kind>`: one set of
//! handlers, generic over the flow kind, for every flow.

pub mod cookies;
pub mod errors;
pub mod request;
pub mod respond;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use self::cookies::csrf_cookie;
use self::errors::{api_error, respond_error};
use self::request::{facts, parse_fields, request_url};
use self::respond::{flow_json, respond};
use crate::flow::core::{self, Flow, FlowError, FlowService, FlowType, Init, Submission};
use crate::flow::login::LoginService;
use crate::flow::recovery::RecoveryService;
use crate::flow::registration::RegistrationService;
use crate::flow::settings::SettingsService;
use crate::flow::verification::VerificationService;
use crate::http::negotiate::is_json_request;
use crate::http::ui::see_other;
use crate::http::{AppState, now};

pub fn configure(cfg: &mut web::ServiceConfig) {
    mount::<VerificationService>(cfg, true);
    mount::<LoginService>(cfg, false);
    mount::<RegistrationService>(cfg, false);
    mount::<SettingsService>(cfg, false);
    mount::<RecoveryService>(cfg, true);
}

/// The four routes of a kind; `links` adds `GET` submissions (links opened from a message).
fn mount<S>(cfg: &mut web::ServiceConfig, links: bool)
where
    S: FlowService + 'static,
    AppState: AsRef<S>,
{
    let base = format!("/self-service/{}", S::KIND.as_str());
    cfg.route(&format!("{base}/browser"), web::get().to(init::<S, true>))
        .route(&format!("{base}/api"), web::get().to(init::<S, false>))
        .route(&format!("{base}/flows"), web::get().to(get_flow::<S>))
        .route(&base, web::post().to(submit::<S>));
    if links {
        cfg.route(&base, web::get().to(submit::<S>));
    }
}

/// The service of kind `S`.
fn service<S>(st: &AppState) -> &S
where
    AppState: AsRef<S>,
{
    st.as_ref()
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
    refresh: Option<String>,
}

/// Per-IP limit on creating flows, before any work is done.
async fn limit_creation(st: &AppState, req: &HttpRequest) -> Result<(), FlowError> {
    let ip = crate::http::client_ip::client_ip(req, &st.trusted_proxies);
    let client = crate::ratelimit::ip_subject(ip);
    let rule = crate::ratelimit::Rule::FlowCreatePerIp;
    core::enforce(&st.limiter, rule, &client, now()).await
}

async fn init<S, const BROWSER: bool>(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> HttpResponse
where
    S: FlowService,
    AppState: AsRef<S>,
{
    let flow_type = if BROWSER {
        FlowType::Browser
    } else {
        FlowType::Api
    };
    let init = Init {
        flow_type: Some(flow_type),
        request_url: request_url(&st, &req),
        return_to: q.return_to.clone(),
        refresh: matches!(q.refresh.as_deref(), Some("true" | "1")),
    };
    match create::<S>(&st, &req, &init).await {
        Ok((flow, new_token, r)) => created(&st, &req, &flow, new_token, &r),
        Err(e) => respond_error(&st, &req, e, Some(flow_type)).await,
    }
}

async fn create<S>(
    st: &AppState,
    req: &HttpRequest,
    init: &Init,
) -> Result<(Flow, Option<String>, core::Request), FlowError>
where
    S: FlowService,
    AppState: AsRef<S>,
{
    limit_creation(st, req).await?;
    let mut r = facts(st, req, S::SESSION).await?;
    let new_token = (init.flow_type == Some(FlowType::Browser) && r.csrf_cookie.is_none())
        .then(crate::csrf::new_token);
    if new_token.is_some() {
        r.csrf_cookie = new_token.clone();
    }
    let flow = core::create(service::<S>(st), init, &r, now()).await?;
    Ok((flow, new_token, r))
}

/// A new flow's answer: its JSON for api flows and SPAs, else a 303 to its UI; the CSRF
/// cookie is set when the browser did not have one.
fn created(
    st: &AppState,
    req: &HttpRequest,
    flow: &Flow,
    new_token: Option<String>,
    r: &core::Request,
) -> HttpResponse {
    let identity = r.session.as_ref().map(|(_, i)| i);
    let resp = if flow.flow_type == FlowType::Api || is_json_request(req) {
        HttpResponse::Ok().json(flow_json(st, flow, identity))
    } else {
        see_other(&st.flows.ui_location(flow.kind, flow.id))
    };
    with_csrf_cookie(st, resp, new_token)
}

/// `resp` setting the CSRF cookie to `token`, when there is one.
fn with_csrf_cookie(st: &AppState, mut resp: HttpResponse, token: Option<String>) -> HttpResponse {
    if let Some(token) = token
        && resp.add_cookie(&csrf_cookie(st, token)).is_err()
    {
        return actix_web::ResponseError::error_response(&crate::http::ApiError::internal());
    }
    resp
}

#[derive(Deserialize)]
struct FlowQuery {
    id: Option<String>,
}

/// `GET .../flows?id=`: always JSON, as Kratos's API answers it.
async fn get_flow<S>(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<FlowQuery>,
) -> HttpResponse
where
    S: FlowService,
    AppState: AsRef<S>,
{
    let read = async {
        let id = q.id.as_deref().and_then(|s| Uuid::parse_str(s).ok());
        let id = id.ok_or(FlowError::NotFound(S::KIND))?;
        let r = facts(&st, &req, S::SESSION).await?;
        let flow = core::read(service::<S>(&st), id, &r, now()).await?;
        Ok::<_, FlowError>(flow_json(&st, &flow, r.session.as_ref().map(|(_, i)| i)))
    };
    match read.await {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => actix_web::ResponseError::error_response(&api_error(&st, e)),
    }
}

#[derive(Deserialize)]
struct SubmitQuery {
    flow: Option<String>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

async fn submit<S>(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SubmitQuery>,
    body: web::Bytes,
) -> HttpResponse
where
    S: FlowService,
    AppState: AsRef<S>,
{
    let (id, sub, r, fresh) = match prepare::<S>(&st, &req, q.into_inner(), &body).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let identity = r.session.as_ref().map(|(_, i)| i.clone());
    let resp = match core::submit(service::<S>(&st), id, sub, &r, now()).await {
        Ok(o) => respond(&st, &req, o, identity.as_ref()),
        Err(f) => respond_error(&st, &req, f.error, f.flow_type).await,
    };
    with_csrf_cookie(&st, resp, fresh)
}

/// A submission's flow id, fields and request facts; a link opened from a message in a
/// browser without our cookie gets a new CSRF token (returned, for the cookie), and the flow
/// is bound to it (Kratos regenerates the token on link clicks).
async fn prepare<S: FlowService>(
    st: &AppState,
    req: &HttpRequest,
    q: SubmitQuery,
    body: &[u8],
) -> Result<(Uuid, Submission<S::Method>, core::Request, Option<String>), HttpResponse> {
    // A body that cannot be decoded is shown on the flow (400), as Kratos does; only a body
    // over the size limit is refused outright.
    let sub = match parse_fields(req, body, q.fields) {
        Ok(fields) => Submission::from_fields(fields),
        Err(e) if e.status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(actix_web::ResponseError::error_response(&e));
        }
        Err(e) => Submission::malformed(e.reason.unwrap_or_default()),
    };
    let facts = async {
        let id = core::parse_flow_id(q.flow.as_deref())?;
        Ok::<_, FlowError>((id, facts(st, req, S::SESSION).await?))
    };
    let (id, mut r) = match facts.await {
        Ok(p) => p,
        Err(e) => return Err(respond_error(st, req, e, None).await),
    };
    let fresh = (r.is_get && r.csrf_cookie.is_none()).then(crate::csrf::new_token);
    if fresh.is_some() {
        r.csrf_cookie = fresh.clone();
    }
    Ok((id, sub, r, fresh))
}
