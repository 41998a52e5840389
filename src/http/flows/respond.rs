//! Flow outcomes as answers. An api flow always gets JSON (and its session token); a browser
//! flow gets JSON when the request asks for it, else a 303 to the flow's UI.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{Value, json};

use super::cookies::{device_cookie, session_cookie};
use super::errors::expired_error;
use crate::flow::core::{Done, DoneBody, Flow, FlowKind, FlowType, Outcome, Replacement, State};
use crate::http::negotiate::is_json_request;
use crate::http::ui::see_other;
use crate::http::{ApiError, AppState};
use crate::identity::Identity;

/// The identity as the public API shows it.
pub fn identity_json(st: &AppState, identity: &Identity) -> Value {
    crate::http::admin::identity_json(
        identity,
        &st.urls.public,
        st.settings.identity.verified_rule,
        &[],
        false,
    )
}

/// The flow as its API shows it: a settings flow carries its identity.
pub fn flow_json(st: &AppState, flow: &Flow, identity: Option<&Identity>) -> Value {
    let mut body = flow.to_json();
    if let (FlowKind::Settings, Some(i)) = (flow.kind, identity) {
        body["identity"] = identity_json(st, i);
    }
    body
}

fn ui(st: &AppState, flow: &Flow) -> HttpResponse {
    see_other(&st.flows.ui_location(flow.kind, flow.id))
}

pub fn respond(
    st: &AppState,
    req: &HttpRequest,
    outcome: Outcome,
    identity: Option<&Identity>,
) -> HttpResponse {
    // A GET is a link opened from a message: a browser's navigation, whatever the flow's type.
    let is_get = req.method() == actix_web::http::Method::GET;
    let json_for =
        |flow: &Flow| (flow.flow_type == FlowType::Api && !is_get) || is_json_request(req);
    match outcome {
        Outcome::Show { flow, status } if json_for(&flow) => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .json(flow_json(st, &flow, identity))
        }
        Outcome::Show { flow, .. } => ui(st, &flow),
        Outcome::LinkRedirect { flow }
            if is_json_request(req) && flow.state == State::PassedChallenge =>
        {
            HttpResponse::Ok().json(flow_json(st, &flow, identity))
        }
        Outcome::LinkRedirect { flow } => ui(st, &flow),
        Outcome::Replaced { new, why } => replaced(st, &new, why, json_for(&new)),
        Outcome::Done(done) => finished(st, req, *done, json_for),
    }
}

fn replaced(st: &AppState, new: &Flow, why: Replacement, json: bool) -> HttpResponse {
    let to_json = || see_other(&st.flows.flow_url(new.kind, new.id));
    match why {
        // Kratos sends a verification client on to the new flow rather than 410.
        Replacement::FlowExpired { .. } if json && new.kind == FlowKind::Verification => to_json(),
        Replacement::FlowExpired { expired_at } | Replacement::CodeExpired { expired_at }
            if json =>
        {
            expired_error("self-service", true, expired_at, Some(new.id)).error_response()
        }
        Replacement::Retry if json => gone(new, "An error occured, please retry the flow."),
        Replacement::AlreadyDone if json => gone(new, "An error occured, please use the new flow."),
        Replacement::LinkRestart if new.flow_type == FlowType::Api => to_json(),
        _ => ui(st, new),
    }
}

/// 410 `self_service_flow_replaced` pointing at the new flow.
fn gone(new: &Flow, reason: &'static str) -> HttpResponse {
    let mut e = ApiError::new(StatusCode::GONE)
        .id("self_service_flow_replaced")
        .message("self-service flow replaced")
        .reason(reason);
    e.extra.insert("use_flow_id".into(), json!(new.id));
    e.error_response()
}

fn finished(
    st: &AppState,
    req: &HttpRequest,
    done: Done,
    json_for: impl Fn(&Flow) -> bool,
) -> HttpResponse {
    let mut resp = if json_for(&done.flow) {
        HttpResponse::Ok().json(done_json(st, &done))
    } else {
        see_other(&done.redirect)
    };
    if let (Some(s), FlowType::Browser) = (&done.session, done.flow.flow_type) {
        let proved = matches!(done.flow.kind, FlowKind::Login | FlowKind::Recovery);
        let device = proved.then(|| device_cookie(st, req, &done.identity));
        let session = session_cookie(st, s.token.expose(), Some(&s.session));
        if resp.add_cookie(&session).is_err()
            || device.is_some_and(|d| resp.add_cookie(&d).is_err())
        {
            return ApiError::internal().error_response();
        }
    }
    resp
}

/// What a JSON client gets when a flow finishes: Kratos's `successfulNative*` (the session
/// token only for api flows), or the flow with its `continue_with`.
fn done_json(st: &AppState, done: &Done) -> Value {
    let mut body = match done.body {
        DoneBody::Flow => flow_json(st, &done.flow, Some(&done.identity)),
        DoneBody::Session => {
            let identity = identity_json(st, &done.identity);
            let mut body = json!({"identity": identity});
            if let Some(s) = &done.session {
                body["session"] = s.session.to_json(None);
                body["session"]["identity"] = body["identity"].clone();
                if done.flow.flow_type == FlowType::Api {
                    body["session_token"] = json!(s.token.expose());
                }
            }
            body
        }
    };
    if !done.continue_with.is_empty() {
        body["continue_with"] = json!(done.continue_with);
    }
    body
}
