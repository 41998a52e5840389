//! The CSRF cookie's name is derived from `serve.public.base_url` (as in Kratos), so every node
//! behind one load balancer must be given the same base URL, the balancer's. A node that
//! derives its own (no `base_url`), or names another host than the one browsers use, names
//! its cookie differently from its peers, and a browser flow that crosses nodes fails with 403.
//! Both are warned about: the first at start, the second the first time it is seen.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::ServiceRequest;
use actix_web::web;
use url::Url;

use super::openapi::Api;
use crate::http::AppState as Registry;

/// At start: no `serve.public.base_url` means a name derived from this node's listen address.
pub fn warn_at_start(configured: Option<&str>, derived: &Url, dev: bool) {
    if configured.is_none() && !dev {
        tracing::warn!(
            public_base_url = %derived,
            "serve.public.base_url is not set: the CSRF cookie name is derived from this node's \
             address, so nodes behind one load balancer name it differently and browser flows \
             that cross nodes fail with 403; set serve.public.base_url to the balancer's URL"
        );
    }
}

/// On the public port, once per process: a request for a host the base URL does not name.
pub fn observe(req: &ServiceRequest) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if WARNED.load(Ordering::Relaxed) || req.app_data::<Api>() != Some(&Api::Public) {
        return;
    }
    let Some(reg) = req.app_data::<web::Data<Registry>>() else {
        return;
    };
    let Some(asked) = requested_host(req) else {
        return;
    };
    let configured = host_of(&reg.urls.public);
    if !asked.eq_ignore_ascii_case(&configured) && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            requested_host = %asked,
            base_url_host = %configured,
            "a request arrived for a host serve.public.base_url does not name: behind a load \
             balancer, give every node the balancer's URL as serve.public.base_url, or browser \
             flows that cross nodes fail with 403 (the CSRF cookie name comes from it)"
        );
    }
}

/// `X-Forwarded-Host` when a proxy set it, else `Host`, with the port.
fn requested_host(req: &ServiceRequest) -> Option<String> {
    let headers = req.headers();
    let raw = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))?
        .to_str()
        .ok()?;
    let first = raw.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}
