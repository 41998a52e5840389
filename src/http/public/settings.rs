//! `/self-service/settings*`: thin adapters over `flow::settings`. Every call needs a
//! session, and a flow only answers the identity it was made for.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::forms::{
    browser_init, csrf_error, csrf_from_cookie, current_session, expired, form_error,
    identity_for_session, limit_flow_creation, parse_fields, parse_flow_id, request_url,
    respond_error, see_other, submit_context,
};
use super::registration::{FlowQuery, InitQuery, SubmitQuery};
use crate::flow::FlowType;
use crate::flow::env::{FormError, FormOutcome};
use crate::flow::form::FormFlow;
use crate::flow::registration::FormSubmission;
use crate::http::negotiate::is_json_request;
use crate::http::{ApiError, now};
use crate::identity::Identity;
use crate::startup::Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/settings/browser",
        web::get().to(init_browser),
    )
    .route("/self-service/settings/api", web::get().to(init_api))
    .route("/self-service/settings/flows", web::get().to(get_flow))
    .route("/self-service/settings", web::post().to(submit));
}

/// The settings flow as the API shows it: the flow, its identity, and `continue_with`.
fn flow_json(
    reg: &Registry,
    flow: &FormFlow,
    identity: &Identity,
    continue_with: &[Value],
) -> Value {
    let mut body = flow.to_json();
    body["identity"] = identity_for_session(reg, identity);
    if !continue_with.is_empty() {
        body["continue_with"] = json!(continue_with);
    }
    body
}

/// Without a session: browsers log in first and come back to `back` (a page they can GET),
/// JSON clients get 401.
fn login_first(reg: &Registry, req: &HttpRequest, back: &str) -> Result<HttpResponse, ApiError> {
    if is_json_request(req) {
        return Err(form_error(reg, FormError::NoSession));
    }
    let back: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    Ok(see_other(&format!(
        "{}self-service/login/browser?return_to={back}",
        reg.urls.public
    )))
}

async fn init_browser(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(current) = current_session(&reg, &req).await? else {
        return login_first(&reg, &req, &request_url(&reg, &req));
    };
    limit_flow_creation(&reg, &req).await?;
    let existing = csrf_from_cookie(&reg, &req);
    let token = existing.clone().unwrap_or_else(crate::csrf::new_token);
    let created = reg
        .settings_flow
        .create(
            FlowType::Browser,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            token.clone(),
            &current,
            now(),
        )
        .await;
    let flow = match created {
        Ok(f) => f,
        Err(e) => return Ok(respond_error(&reg, &req, e).await),
    };
    browser_init(
        &reg,
        &req,
        || flow_json(&reg, &flow, &current.1, &[]),
        &reg.settings_flow.ui_location(flow.id),
        existing.is_none().then_some(token),
    )
}

async fn init_api(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(current) = current_session(&reg, &req).await? else {
        return Err(form_error(&reg, FormError::NoSession));
    };
    limit_flow_creation(&reg, &req).await?;
    match reg
        .settings_flow
        .create(
            FlowType::Api,
            request_url(&reg, &req),
            q.return_to.as_deref(),
            String::new(),
            &current,
            now(),
        )
        .await
    {
        Ok(flow) => Ok(HttpResponse::Ok().json(flow_json(&reg, &flow, &current.1, &[]))),
        Err(e) => Ok(respond_error(&reg, &req, e).await),
    }
}

async fn get_flow(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_flow_id(q.id.as_deref()).map_err(|_| ApiError::not_found())?;
    let (_, identity) = current_session(&reg, &req)
        .await?
        .ok_or_else(|| form_error(&reg, FormError::NoSession))?;
    let flow = reg
        .settings_flow
        .get(id)
        .await
        .map_err(|e| form_error(&reg, e))?;
    if flow.identity_id != Some(identity.id) {
        return Err(form_error(&reg, FormError::IdentityMismatch));
    }
    if flow.flow_type == FlowType::Browser {
        let cookie = csrf_from_cookie(&reg, &req);
        if !cookie.is_some_and(|c| crate::csrf::verify(&flow.csrf_token, &c)) {
            return Err(csrf_error(
                "the CSRF cookie is missing or does not belong to this flow",
            ));
        }
    }
    if flow.is_expired(now()) {
        return Err(super::forms::expired_error(
            "settings",
            false,
            flow.expires_at,
            None,
        ));
    }
    Ok(HttpResponse::Ok().json(flow_json(&reg, &flow, &identity, &[])))
}

async fn submit(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<SubmitQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let id = parse_flow_id(q.flow.as_deref())?;
    let fields = parse_fields(&req, &body, q.fields)?;
    let current = current_session(&reg, &req).await?;
    let Some(identity) = current.as_ref().map(|(_, i)| i.clone()) else {
        // The form was posted after the session ended: back to the flow's page afterwards.
        return login_first(&reg, &req, &reg.settings_flow.ui_location(id));
    };
    let outcome = reg
        .settings_flow
        .submit(
            id,
            FormSubmission::from_fields(fields),
            submit_context(&reg, &req),
            current,
            now(),
        )
        .await;
    let json = is_json_request(&req);
    let ui = |id| reg.settings_flow.ui_location(id);
    Ok(match outcome {
        Ok(FormOutcome::Show { flow, status }) if json => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .json(flow_json(&reg, &flow, &identity, &[]))
        }
        Ok(FormOutcome::Show { flow, .. }) => see_other(&ui(flow.id)),
        Ok(FormOutcome::Expired { new, expired_at }) if json => expired(&new, expired_at),
        Ok(FormOutcome::Expired { new, .. }) => see_other(&ui(new.id)),
        Ok(FormOutcome::Done(done)) if json => HttpResponse::Ok().json(flow_json(
            &reg,
            &done.flow,
            &done.identity,
            &done.continue_with,
        )),
        Ok(FormOutcome::Done(done)) => see_other(&done.redirect),
        Err(FormError::NotFound) => {
            return Err(ApiError::not_found()
                .reason("The settings request could not be found. Please restart the flow."));
        }
        Err(FormError::RefreshRequired { login_url }) if !json => see_other(&login_url),
        Err(e) => respond_error(&reg, &req, e).await,
    })
}
