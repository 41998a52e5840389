//! `GET /ui/verification?flow=<id>`: the verification flow as a page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{Page, PageQuery, belongs_to_browser, browser_url, restart, see_other};
use crate::flow::core::{FlowError, FlowKind, FlowType, Method, State};
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
        return Ok(restart(&reg, KIND, flow.return_to.as_deref()));
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
    let ui = serde_json::to_value(&flow.ui).map_err(|_| ApiError::internal())?;
    let sent_to = (flow.state == State::SentEmail)
        .then(|| flow.challenge.sent_to.clone())
        .flatten()
        .map(|address| {
            let key = if flow.active == Some(Method::Link) {
                "verification_sent_link_to"
            } else {
                "verification_sent_to"
            };
            let masked = crate::ui::mask_address(&address);
            let ctx = json!({"address": masked});
            crate::ui::catalogue::fill(
                &page.text(key),
                ctx.as_object().unwrap_or(&Default::default()),
            )
            .unwrap_or_default()
        });
    let title = page.text(if passed {
        "verification_success_title"
    } else {
        "verification_title"
    });
    let model = json!({
        "form": page.form(&ui),
        "sent_to": sent_to,
        "passed": passed,
        "state": flow.state.as_str(),
        "restart": browser_url(&reg, KIND, flow.return_to.as_deref()),
        "login_href": browser_url(&reg, "login", flow.return_to.as_deref()),
    });
    page.render(&reg, StatusCode::OK, "verification", &title, model)
}
