//! The one middleware in front of both ports: the connection cap, then the admin port's host
//! allow-list or the public port's cross-site refusal, then the body read under its deadline.
//! Everything here runs before any handler, so a refused request does no work.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HOST;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};

use super::admin_hosts::AdminHosts;
use super::fetch_metadata::CrossSitePolicy;
use super::slow_clients::{BodyError, ConnectionSlot, announced_over, has_body, read_body};
use crate::http::ApiError;
use crate::http::{AppState as Registry, Urls};

/// Which server a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Public,
    Admin,
}

/// The compiled policies, built once at start.
#[derive(Debug, Clone)]
pub struct Guards {
    pub cross_site: CrossSitePolicy,
    pub admin_hosts: AdminHosts,
    pub body_timeout: Duration,
}

impl Guards {
    /// `cors` are the CORS allowed origins (`serve.public.cors.allowed_origins` where set).
    pub fn new(
        settings: &crate::config::Settings,
        urls: &Urls,
        cors: &[String],
    ) -> Result<Self, String> {
        let flows = &settings.selfservice.flows;
        let own = [
            Some(urls.public.as_str()),
            flows.verification.ui_url.as_deref(),
            flows.registration.ui_url.as_deref(),
            flows.login.ui_url.as_deref(),
            flows.settings.ui_url.as_deref(),
            flows.recovery.ui_url.as_deref(),
            flows.error.ui_url.as_deref(),
        ];
        let p = &settings.protection;
        Ok(Self {
            cross_site: CrossSitePolicy::new(&p.fetch_metadata, own.into_iter().flatten(), cors)?,
            admin_hosts: AdminHosts::new(&p.admin_hosts, &[&urls.admin, &urls.public]),
            body_timeout: p.clients.body_timeout.std(),
        })
    }
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

pub async fn guard<B: MessageBody>(
    port: Port,
    body_limit: usize,
    mut req: ServiceRequest,
    next: Next<B>,
) -> Answer<B> {
    let Some(reg) = req.app_data::<web::Data<Registry>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let g = &reg.guards;
    if req.conn_data::<ConnectionSlot>().is_some_and(|s| s.over) {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
            .reason("Too many open connections from your address; close some and retry.");
        e.retry_after = Some(1);
        return Ok(refuse(req, e.error_response(), true));
    }
    match port {
        Port::Admin => {
            let host = req.headers().get(HOST).and_then(|v| v.to_str().ok());
            let host = host.or(req.uri().authority().map(|a| a.as_str()));
            if !g.admin_hosts.allows(req.path(), host) {
                let e = ApiError::new(StatusCode::MISDIRECTED_REQUEST)
                    .reason("This server does not answer to the host name in the request; use the admin base URL or a loopback address (protection.admin_hosts).")
                    .message("The request was sent to a host name this server does not serve");
                return Ok(refuse(req, e.error_response(), false));
            }
        }
        Port::Public => {
            if g.cross_site
                .refuses(req.method(), req.path(), req.headers())
            {
                tracing::debug!(path = req.path(), "cross-site request refused");
                let e = ApiError::new(StatusCode::FORBIDDEN)
                    .id("security_csrf_violation")
                    .reason("The request was refused because it was sent from another site (Sec-Fetch-Site or Origin). Start again from this site's own pages.");
                let resp = if crate::http::negotiate::is_json_request(req.request()) {
                    e.error_response()
                } else {
                    crate::http::ui::render_error(&reg, req.request(), &e)
                };
                return Ok(refuse(req, resp, false));
            }
        }
    }
    if has_body(req.headers()) && !announced_over(req.headers(), body_limit) {
        let mut payload = req.parts_mut().1.take();
        match read_body(&mut payload, body_limit, g.body_timeout).await {
            Ok(body) => req.set_payload(body.into()),
            Err(BodyError::Timeout) => {
                let secs = g.body_timeout.as_secs_f64();
                let e = ApiError::new(StatusCode::REQUEST_TIMEOUT).reason(format!(
                    "The request body did not arrive within {secs} seconds."
                ));
                return Ok(refuse(req, e.error_response(), true));
            }
            Err(BodyError::Broken) => {
                let e = ApiError::bad_request("The request body could not be read.");
                return Ok(refuse(req, e.error_response(), true));
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Answers `resp` in place of the handler; `close` ends the connection after it (its body,
/// or the rest of it, was not read).
fn refuse<B>(
    req: ServiceRequest,
    mut resp: HttpResponse,
    close: bool,
) -> ServiceResponse<EitherBody<B>> {
    if close {
        resp.head_mut().set_connection_type(ConnectionType::Close);
    }
    req.into_response(resp).map_into_right_body()
}
