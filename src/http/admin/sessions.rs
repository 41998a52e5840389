//! `/admin/identities/{id}/sessions` and `/admin/sessions/{id}`: list, look at, revoke and
//! extend any identity's sessions.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::identity_json;
use crate::http::{ApiError, method_not_allowed, now};
use crate::identity::Identity;
use crate::session::Session;
use crate::startup::Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/identities/{id}/sessions")
            .route(web::get().to(list))
            .route(web::delete().to(revoke_all))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/sessions/{id}")
            .route(web::get().to(get))
            .route(web::delete().to(revoke))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/sessions/{id}/extend")
            .route(web::patch().to(extend))
            .default_service(web::to(method_not_allowed)),
    );
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

fn session_json(reg: &Registry, s: &Session, identity: Option<&Identity>) -> Value {
    let mut v = s.to_json(None);
    if let Some(i) = identity {
        v["identity"] = identity_json(
            i,
            &reg.urls.public,
            reg.settings.identity.verified_rule,
            &[],
            true,
        );
    }
    v
}

async fn identity(reg: &Registry, id: Uuid) -> Result<Identity, ApiError> {
    reg.store
        .get_identity(id)
        .await?
        .ok_or_else(|| ApiError::not_found().reason("Unable to locate the resource"))
}

async fn session(reg: &Registry, id: Uuid) -> Result<Session, ApiError> {
    reg.store
        .get_session(id)
        .await?
        .ok_or_else(|| ApiError::not_found().reason("Unable to locate the resource"))
}

#[derive(Deserialize)]
struct ListQuery {
    active: Option<String>,
}

/// `?active=true` only usable sessions, `?active=false` only ended or expired ones.
async fn list(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let identity = identity(&reg, parse_id(&path)?).await?;
    let active = match q.active.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request(
                "The active parameter must be true or false.",
            ));
        }
    };
    let now = now();
    let sessions = reg
        .store
        .list_sessions(identity.id, active == Some(true))
        .await?;
    let body: Vec<Value> = sessions
        .iter()
        .filter(|s| active.is_none_or(|a| s.is_usable(now) == a))
        .map(|s| session_json(&reg, s, Some(&identity)))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn revoke_all(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identity = identity(&reg, parse_id(&path)?).await?;
    let ended = reg
        .store
        .deactivate_identity_sessions(identity.id, None, now())
        .await?;
    tracing::info!(identity_id = %identity.id, ended, "admin revoked all sessions");
    Ok(HttpResponse::NoContent().finish())
}

async fn get(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    q: crate::http::query::QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let s = session(&reg, parse_id(&path)?).await?;
    let identity = match q.has("expand", "identity") {
        true => reg.store.get_identity(s.identity_id).await?,
        false => None,
    };
    Ok(HttpResponse::Ok().json(session_json(&reg, &s, identity.as_ref())))
}

async fn revoke(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = session(&reg, parse_id(&path)?).await?;
    reg.store.deactivate_session(s.id, now()).await?;
    tracing::info!(session_id = %s.id, "admin revoked a session");
    Ok(HttpResponse::NoContent().finish())
}

/// Only a usable session can be extended; an ended or expired one is not found.
async fn extend(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = now();
    let s = session(&reg, parse_id(&path)?).await?;
    if !s.is_usable(now) {
        return Err(ApiError::not_found().reason("Unable to locate the resource"));
    }
    let s = reg.sessions.extend(s, now).await?;
    Ok(HttpResponse::Ok().json(session_json(&reg, &s, None)))
}
