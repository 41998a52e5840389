//! `GET|POST /self-service/methods/oidc/callback/{provider}`: thin adapter over
//! `flow::oidc::callback`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::flow::core::SessionUse;
use crate::http::AppState as Registry;
use crate::http::flows::errors::respond_error;
use crate::http::flows::request::facts;
use crate::http::flows::respond::respond;
use crate::http::now;
use crate::strategy::oidc::Callback;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/methods/oidc/callback/{provider}",
        web::get().to(callback_get),
    )
    .route(
        "/self-service/methods/oidc/callback/{provider}",
        web::post().to(callback_post),
    );
}

#[derive(Deserialize, Default)]
struct Params {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback_get(
    reg: web::Data<Registry>,
    req: HttpRequest,
    provider: web::Path<String>,
) -> HttpResponse {
    let params = web::Query::<Params>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    handle(&reg, &req, provider.into_inner(), params).await
}

/// `response_mode=form_post` providers post the same parameters. A cross-site POST carries
/// no `SameSite=Lax` cookies, so the browser is sent (303) to the same path as a GET with the
/// parameters in the query; that top-level navigation carries them.
async fn callback_post(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let params = std::str::from_utf8(&body)
        .ok()
        .and_then(|b| web::Query::<Params>::from_query(b).ok())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("state", &params.state),
        ("code", &params.code),
        ("error", &params.error),
        ("error_description", &params.error_description),
    ] {
        if let Some(v) = value {
            query.append_pair(key, v);
        }
    }
    let query = query.finish();
    let location = if query.is_empty() {
        req.path().to_owned()
    } else {
        format!("{}?{query}", req.path())
    };
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn handle(reg: &Registry, req: &HttpRequest, provider: String, p: Params) -> HttpResponse {
    let facts = match facts(reg, req, SessionUse::Optional).await {
        Ok(f) => f,
        Err(e) => return respond_error(reg, req, e.into(), None).await,
    };
    let cb = Callback {
        provider,
        state: p.state,
        code: p.code,
        error: p.error,
        error_description: p.error_description,
    };
    match crate::flow::oidc::callback(&reg.login, &reg.registration, cb, &facts, now()).await {
        Ok(o) => respond(reg, req, o, None),
        Err(e) => respond_error(reg, req, e, None).await,
    }
}
