//! `/admin/sessions` (every session, paged), `/admin/identities/{id}/sessions` and
//! `/admin/sessions/{id}`: list, look at, revoke and extend any identity's sessions.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::Value;
use uuid::Uuid;

use super::identity_json;
use crate::http::AppState as Registry;
use crate::http::pagination::{PageQuery, link_header, seal};
use crate::http::query::QueryPairs;
use crate::http::{ApiError, method_not_allowed, now};
use crate::identity::Identity;
use crate::session::{ActiveFilter, Session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sessions")
            .route(web::get().to(list_all))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
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

/// The identity a session or listing is for; unknown is 404 as for an unknown session.
async fn identity(reg: &Registry, id: Uuid) -> Result<Identity, ApiError> {
    reg.identities
        .get(id)
        .await
        .map_err(|_| ApiError::not_found().reason("Unable to locate the resource"))
}

fn session_json(reg: &Registry, s: &Session, identity: Option<&Identity>) -> Value {
    let mut v = s.to_json(None);
    if let Some(i) = identity {
        let rule = reg.settings.identity.verified_rule;
        v["identity"] = identity_json(i, &reg.urls.public, rule, &[], true);
    }
    v
}

/// What a listing asks for: the `active` filter and whether to embed the identity
/// (`expand` may repeat; only `identity` and `devices` are known, as in Kratos).
struct Shape {
    active: ActiveFilter,
    identity: bool,
}

fn shape(q: &QueryPairs) -> Result<Shape, ApiError> {
    let active = ActiveFilter::parse(q.all("active").next())
        .ok_or_else(|| ApiError::bad_request("could not parse parameter active"))?;
    let mut identity = false;
    for e in q.all("expand") {
        match e.to_ascii_lowercase().as_str() {
            "identity" => identity = true,
            "devices" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Could not parse expand option: {e}"
                )));
            }
        }
    }
    Ok(Shape { active, identity })
}

fn page_query(q: &QueryPairs) -> Result<PageQuery, ApiError> {
    let size = match q.all("page_size").next() {
        None => None,
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| ApiError::bad_request("could not parse parameter page_size"))?,
        ),
    };
    Ok(PageQuery {
        page_size: size,
        per_page: None,
        page_token: q.all("page_token").next().map(str::to_owned),
        page: None,
    })
}

/// Each session's JSON, with its identity when `expand=identity` asked for it.
async fn sessions_json(
    reg: &Registry,
    sessions: &[Session],
    expand_identity: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut body = Vec::with_capacity(sessions.len());
    for s in sessions {
        let identity = match expand_identity {
            true => Some(identity(reg, s.identity_id).await?),
            false => None,
        };
        body.push(session_json(reg, s, identity.as_ref()));
    }
    Ok(body)
}

/// `GET /admin/sessions`: every identity's sessions, keyset paged with a `Link` header.
async fn list_all(reg: web::Data<Registry>, q: QueryPairs) -> Result<HttpResponse, ApiError> {
    let (shape, page) = (shape(&q)?, page_query(&q)?);
    let (size, after) = (page.size()?, page.after(&reg.keyring)?);
    let found = reg
        .sessions
        .list_all(after, size, shape.active, now())
        .await?;
    let body = sessions_json(&reg, &found.sessions, shape.identity).await?;
    let next = found
        .has_more
        .then(|| found.sessions.last().map(|s| seal(&reg.keyring, s.id)))
        .flatten();
    let base = format!("{}admin/sessions", reg.urls.admin);
    Ok(HttpResponse::Ok()
        .insert_header((header::LINK, link_header(&base, size, next, "")))
        .json(body))
}

/// `?active=true` only usable sessions, `?active=false` only ended or expired ones.
async fn list(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let identity = identity(&reg, parse_id(&path)?).await?;
    let active = ActiveFilter::parse(q.all("active").next())
        .ok_or_else(|| ApiError::bad_request("The active parameter must be true or false."))?;
    let sessions = reg.sessions.list_for(identity.id, active, now()).await?;
    let body: Vec<Value> = sessions
        .iter()
        .map(|s| session_json(&reg, s, Some(&identity)))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

async fn revoke_all(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identity = identity(&reg, parse_id(&path)?).await?;
    let ended = reg.sessions.revoke_all(identity.id, None, now()).await?;
    tracing::info!(identity_id = %identity.id, ended, "admin revoked all sessions");
    Ok(HttpResponse::NoContent().finish())
}

async fn get(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    q: QueryPairs,
) -> Result<HttpResponse, ApiError> {
    let shape = shape(&q)?;
    let s = reg.sessions.get(parse_id(&path)?).await?;
    let identity = match shape.identity {
        true => Some(identity(&reg, s.identity_id).await?),
        false => None,
    };
    Ok(HttpResponse::Ok().json(session_json(&reg, &s, identity.as_ref())))
}

async fn revoke(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = reg.sessions.get(parse_id(&path)?).await?;
    reg.sessions.revoke(s.id, now()).await?;
    tracing::info!(session_id = %s.id, "admin revoked a session");
    Ok(HttpResponse::NoContent().finish())
}

/// Only a usable session can be extended; an ended or expired one is not found.
async fn extend(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = now();
    let s = reg.sessions.get(parse_id(&path)?).await?;
    if !s.is_usable(now) {
        return Err(ApiError::not_found().reason("Unable to locate the resource"));
    }
    let s = reg.sessions.extend(s, now).await?;
    Ok(HttpResponse::Ok().json(session_json(&reg, &s, None)))
}
