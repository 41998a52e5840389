//! `GET|POST /self-service/methods/oidc/callback/{provider}`: thin adapter over
//! `flow::oidc::callback`.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use super::forms::{
    browser_signal, csrf_from_cookie, current_session, device, form_error, respond, respond_error,
};
use super::verification_errors::for_browser;
use crate::flow::env::{FormError, FormOutcome};
use crate::flow::oidc::{Callback, CallbackError};
use crate::flow::verification::SubmitContext;
use crate::http::{ApiError, now};
use crate::startup::Registry;

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
    let ctx = SubmitContext {
        is_get: true,
        csrf_cookie: csrf_from_cookie(reg, req),
        client: Some(crate::ratelimit::ip_subject(
            crate::http::client_ip::client_ip(req, &reg.trusted_proxies),
        )),
        browser_signal: browser_signal(req),
    };
    let current = match current_session(reg, req).await {
        Ok(c) => c.map(|(s, _)| s.id),
        Err(e) => return e.error_response(),
    };
    let cb = Callback {
        provider,
        state: p.state,
        code: p.code,
        error: p.error,
        error_description: p.error_description,
    };
    let outcome = crate::flow::oidc::callback(
        &reg.registration,
        &reg.login,
        cb,
        ctx,
        device(reg, req),
        current,
        now(),
    )
    .await;
    match outcome {
        Ok(o) => {
            let kind = match &o {
                FormOutcome::Show { flow, .. } => flow.kind,
                FormOutcome::Expired { new, .. } => new.kind,
                FormOutcome::Done(d) => d.flow.kind,
            };
            let env = reg.registration.env();
            respond(reg, req, o, |id| env.ui_location(kind, id))
        }
        Err(CallbackError::Form(
            e @ (FormError::BrowserLocationChange(_) | FormError::VerifiedAddressRequired { .. }),
        )) => respond_error(reg, req, e).await,
        // No flow to show them on (CSRF, store, ...): browsers see the error page.
        Err(CallbackError::Form(e)) => to_browser(reg, req, form_error(reg, e)).await,
        Err(e @ (CallbackError::UnknownState | CallbackError::BadRequest(_))) => {
            to_browser(reg, req, ApiError::bad_request(e.to_string())).await
        }
    }
}

async fn to_browser(reg: &Registry, req: &HttpRequest, e: ApiError) -> HttpResponse {
    match for_browser(reg, req, e).await {
        Ok(r) => r,
        Err(e) => e.error_response(),
    }
}
