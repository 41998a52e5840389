//! `/sessions/whoami`, the user's own sessions, and logout.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::http::AppState as Registry;
use crate::http::flows::cookies::expired_session_cookie;
use crate::http::flows::request::current_session;
use crate::http::flows::respond::identity_json as identity_for_session;
use crate::http::negotiate::is_json_request;
use crate::http::ui::see_other;
use crate::http::{ApiError, now};
use crate::identity::Identity;
use crate::service::ServiceError;
use crate::session::{ActiveFilter, Session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions/whoami", web::get().to(whoami))
        .route("/sessions", web::get().to(list_mine))
        .route("/sessions", web::delete().to(revoke_others))
        .route("/sessions/{id}", web::delete().to(revoke_one))
        .route(
            "/self-service/logout/browser",
            web::get().to(logout_browser),
        )
        .route("/self-service/logout", web::get().to(logout))
        .route("/self-service/logout/api", web::delete().to(logout_api));
}

fn no_session() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED)
        .id("session_inactive")
        .message("request does not have a valid authentication session")
        .reason("No valid session credentials found in the request.")
}

async fn require_session(
    reg: &Registry,
    req: &HttpRequest,
) -> Result<(Session, Identity), ApiError> {
    current_session(reg, req).await?.ok_or_else(no_session)
}

async fn whoami(reg: web::Data<Registry>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (session, identity) = require_session(&reg, &req).await?;
    // Skygear's "only verified users may call user APIs", as a switch.
    if reg.settings.session.whoami.require_verified_address
        && !identity.is_verified(reg.settings.identity.verified_rule)
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN)
            .id("session_verified_address_required")
            .message("your email or phone address is not yet verified")
            .reason("Your account's email or phone address are not verified yet. Please check your email or phone inbox or re-request verification."));
    }
    let mut body = session.to_json(None);
    body["identity"] = identity_for_session(&reg, &identity);
    Ok(HttpResponse::Ok()
        .insert_header((
            "X-Kratos-Authenticated-Identity-Id",
            identity.id.to_string(),
        ))
        .json(body))
}

async fn list_mine(reg: web::Data<Registry>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (session, identity) = require_session(&reg, &req).await?;
    let all = reg
        .sessions
        .list_for(identity.id, ActiveFilter::Active, now())
        .await?;
    let others: Vec<_> = all
        .iter()
        .filter(|s| s.id != session.id)
        .map(|s| s.to_json(None))
        .collect();
    Ok(HttpResponse::Ok().json(others))
}

async fn revoke_others(
    reg: web::Data<Registry>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (session, identity) = require_session(&reg, &req).await?;
    let count = reg
        .sessions
        .revoke_all(identity.id, Some(session.id), now())
        .await?;
    Ok(HttpResponse::Ok().json(json!({"count": count})))
}

async fn revoke_one(
    reg: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (session, identity) = require_session(&reg, &req).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::not_found())?;
    if id == session.id {
        return Err(ApiError::bad_request(
            "Use the logout endpoint to end the current session.",
        ));
    }
    reg.sessions
        .revoke_own(identity.id, id, now())
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => ApiError::not_found(),
            other => other.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct ReturnQuery {
    return_to: Option<String>,
    token: Option<String>,
}

fn allowed_return(reg: &Registry, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => reg
            .flows
            .check_return_to(Some(r))
            .map_err(|e| crate::http::flows::errors::api_error(reg, e)),
    }
}

/// The URL that ends `session` (its logout token in the query), with an optional return_to
/// that the caller has checked.
pub(crate) fn logout_url(
    reg: &Registry,
    session: &Session,
    return_to: Option<&str>,
) -> (String, String) {
    let token = reg.sessions.logout_token(session);
    let mut url = format!("{}self-service/logout?token={token}", reg.urls.public);
    if let Some(r) = return_to {
        url.push_str("&return_to=");
        url.push_str(&url::form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>());
    }
    (url, token)
}

/// `GET /self-service/logout/browser`: the URL (with the session's logout token) that ends
/// this session. Nothing is written: the token is derived from the session.
async fn logout_browser(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<ReturnQuery>,
) -> Result<HttpResponse, ApiError> {
    let (session, _) = require_session(&reg, &req).await?;
    let return_to = allowed_return(&reg, q.return_to.as_deref())?;
    let (url, token) = logout_url(&reg, &session, return_to.as_deref());
    Ok(HttpResponse::Ok().json(json!({"logout_url": url, "logout_token": token})))
}

async fn logout(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<ReturnQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = q
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("Please include a token in the URL query."))?;
    let return_to = allowed_return(&reg, q.return_to.as_deref())?;
    if !end_with_token(&reg, &req, token).await? {
        return Err(ApiError::new(StatusCode::FORBIDDEN)
            .reason("Unable to log out because the logout token in the URL query does not match the session cookie."));
    }
    let mut resp = if is_json_request(&req) {
        HttpResponse::NoContent().finish()
    } else {
        see_other(&after_logout(&reg, return_to))
    };
    resp.add_cookie(&expired_session_cookie(&reg))
        .map_err(|_| ApiError::internal())?;
    Ok(resp)
}

/// Ends the browser's session if `token` is its logout token. The token must belong to the
/// session this browser presents (Kratos compares it with the session cookie), so a leaked
/// logout link cannot end anyone else's session.
async fn end_with_token(reg: &Registry, req: &HttpRequest, token: &str) -> Result<bool, ApiError> {
    Ok(match current_session(reg, req).await? {
        Some((session, _)) => {
            reg.sessions
                .logout_with_token(&session, token, now())
                .await?
        }
        None => false,
    })
}

/// Where a browser goes after logging out: the checked return_to, else the configured URLs.
fn after_logout(reg: &Registry, return_to: Option<String>) -> String {
    let logout = &reg.settings.selfservice.flows.logout.after;
    return_to
        .or_else(|| logout.default_browser_return_url.clone())
        .unwrap_or_else(|| reg.settings.selfservice.default_browser_return_url.clone())
}

#[derive(Deserialize)]
struct LogoutApiBody {
    session_token: Option<String>,
}

async fn logout_api(
    reg: web::Data<Registry>,
    body: web::Json<LogoutApiBody>,
) -> Result<HttpResponse, ApiError> {
    let token = body
        .session_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("Property session_token is missing."))?;
    if reg.sessions.logout_by_token(token, now()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN)
            .reason("The provided session token is not valid or has already been revoked."))
    }
}

/// The request's active session, for the UI's pages; a database failure is an error, not
/// "signed out".
pub(crate) async fn session_of(
    reg: &Registry,
    req: &HttpRequest,
) -> Result<Option<(Session, Identity)>, ApiError> {
    Ok(current_session(reg, req).await?)
}
