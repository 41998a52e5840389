//! `GET /ui/verification?flow=<id>`: the verification flow as a page. It says why it is shown
//! when a sign-in sent the person here, says once (not twice) where the code went and when a
//! new one was sent, offers "start again" only while a code waits, and after success leads a
//! signed-out person to the sign-in rather than to a signed-out home.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{
    Page, PageQuery, belongs_to_browser, browser_url, polish, restart, restart_or_refuse, see_other,
};
use crate::flow::core::{Flow, FlowError, FlowKind, FlowType, Method, State};
use crate::http::AppState as Registry;
use crate::http::{ApiError, now};
use crate::service::ServiceError;

const KIND: &str = "verification";

pub(super) async fn page(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(id) = q.flow_id() else {
        return Ok(restart(&reg, KIND, q.return_to.as_deref()));
    };
    let flow = match reg.flows.flows.get(FlowKind::Verification, id).await {
        Ok(f) => f,
        Err(FlowError::NotFound(_)) => {
            return Ok(restart(&reg, KIND, q.return_to.as_deref()));
        }
        Err(FlowError::Unavailable(e)) => return Err(ServiceError::from(e).into()),
        Err(e) => {
            tracing::error!(error = ?e, "loading a verification flow for the UI failed");
            return Err(ApiError::internal());
        }
    };
    let browser = flow.flow_type == FlowType::Browser;
    if !belongs_to_browser(&reg, &req, browser, &flow.csrf_token) || flow.is_expired(now()) {
        return Ok(restart_or_refuse(&reg, &req, KIND, &flow));
    }
    let passed = flow.state == State::PassedChallenge;
    // The flow's own `return_to` wins: the success page's continue link leads there.
    if passed
        && flow.return_to.is_none()
        && let Some(to) = &reg.settings.ui.success_redirects.verification
    {
        return Ok(see_other(to));
    }
    let page = Page::new(&reg, &req);
    let key = if flow.active == Some(Method::Link) {
        "verification_sent_link_to"
    } else {
        "verification_sent_to"
    };
    let sent_to = polish::sent_line(&page, &flow, key);
    let mut ui = polish::ui_json(&page, &flow, sent_to.is_some());
    let signed_in = crate::http::public::sessions::session_of(&reg, &req)
        .await?
        .is_some();
    let sign_in_next = passed && !signed_in;
    if sign_in_next {
        continue_to_login(&reg, &flow, &mut ui);
    }
    let mut form = page.form(&ui);
    polish::code_inputs(&mut form, super::flows::numeric_codes(&reg));
    let title = page.text(if passed {
        "verification_success_title"
    } else {
        "verification_title"
    });
    let model = json!({
        "form": form,
        "sent_to": sent_to,
        "resent": polish::resent_line(&page, &flow),
        "for_sign_in": !passed && started_by_sign_in(&reg, &req, &flow),
        "sign_in_next": sign_in_next,
        "waiting": flow.state == State::SentEmail,
        "passed": passed,
        "state": flow.state.as_str(),
        "restart": browser_url(&reg, KIND, flow.return_to.as_deref()),
        "login_href": browser_url(&reg, "login", flow.return_to.as_deref()),
    });
    page.render(&reg, StatusCode::OK, "verification", &title, model)
}

/// A sign-in of an unverified account sent the person here: the flow carries the login's
/// URL, or (a code sign-up sent is reused) the browser came from the sign-in page.
fn started_by_sign_in(reg: &Registry, req: &HttpRequest, flow: &Flow) -> bool {
    let login_page = format!("{}ui/login", reg.urls.public);
    let from_login = req
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|r| r.starts_with(&login_page));
    from_login || flow.request_url.contains("/self-service/login/")
}

/// The success form's Continue leads a signed-out person to the sign-in, which then goes
/// where Continue would have gone.
fn continue_to_login(reg: &Registry, flow: &Flow, ui: &mut Value) {
    let target = flow
        .return_to
        .clone()
        .or_else(|| ui.get("action").and_then(Value::as_str).map(str::to_owned));
    let login = browser_url(reg, "login", target.as_deref());
    let Some(nodes) = ui.get_mut("nodes").and_then(Value::as_array_mut) else {
        return;
    };
    for n in nodes
        .iter_mut()
        .filter(|n| n["attributes"]["id"] == "continue")
    {
        n["attributes"]["href"] = json!(login);
        n["attributes"]["title"]["text"] = json!("Sign in");
        n["attributes"]["title"]["id"] = json!(1010001);
        n["meta"]["label"] = n["attributes"]["title"].clone();
    }
}
