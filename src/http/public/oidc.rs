//! `GET|POST /self-service/methods/oidc/callback/{provider}`: thin adapter over
//! `flow::oidc::callback`.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;

use super::forms::{
    browser_signal, csrf_from_cookie, current_session, device, respond, respond_error,
};
use crate::flow::env::FormOutcome;
use crate::flow::oidc::{Callback, CallbackError};
use crate::flow::verification::SubmitContext;
use crate::http::negotiate::is_json_request;
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

/// `response_mode=form_post` providers post the same parameters.
async fn callback_post(
    reg: web::Data<Registry>,
    req: HttpRequest,
    provider: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = std::str::from_utf8(&body)
        .ok()
        .and_then(|b| web::Query::<Params>::from_query(b).ok())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    handle(&reg, &req, provider.into_inner(), params).await
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
        Err(CallbackError::Form(e)) => respond_error(reg, req, e),
        Err(e @ (CallbackError::UnknownState | CallbackError::BadRequest(_))) => {
            let err = ApiError::bad_request(e.to_string());
            if is_json_request(req) {
                err.error_response()
            } else {
                crate::http::ui::forward_to_error_ui(reg, &err).await
            }
        }
    }
}
