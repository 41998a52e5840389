//! CORS on either port, with Kratos's options (`serve.public.cors`, and `serve.admin.cors`):
//! origins with one `*` wildcard, allowed methods and headers, credentials, exposed headers
//! and preflight caching. A preflight is answered here (204) and never reaches a handler; a
//! refused one gets its 204 without any `Access-Control-*` header, so the browser blocks the
//! request, as Kratos (rs/cors) does.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::config::CorsConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginPattern {
    Any,
    Exact(String),
    /// One `*` standing for zero or more characters.
    Wildcard(String, String),
}

/// A configured origin entry is `*` or an origin (`scheme://host[:port]`) with at most one `*`.
pub fn check_origin(raw: &str) -> Result<(), String> {
    if raw == "*" {
        return Ok(());
    }
    if raw.matches('*').count() > 1 {
        return Err(format!(
            "{raw:?} has more than one `*`; use one wildcard per origin"
        ));
    }
    let probe = raw.replace('*', "x");
    match url::Url::parse(&probe) {
        Ok(u) if u.has_host() => Ok(()),
        _ => Err(format!(
            "{raw:?} is not an origin such as https://app.example.com or https://*.example.com"
        )),
    }
}

/// The compiled CORS policy of one port.
#[derive(Debug, Clone)]
pub struct Cors {
    enabled: bool,
    origins: Vec<OriginPattern>,
    methods: Vec<String>,
    headers: Vec<String>,
    exposed: String,
    credentials: bool,
    max_age: u64,
}

impl Cors {
    pub fn new(cfg: &CorsConfig) -> Self {
        let origins = cfg
            .allowed_origins
            .iter()
            .map(|o| match o.split_once('*') {
                _ if o == "*" => OriginPattern::Any,
                Some((a, b)) => {
                    OriginPattern::Wildcard(a.to_ascii_lowercase(), b.to_ascii_lowercase())
                }
                None => OriginPattern::Exact(o.trim_end_matches('/').to_ascii_lowercase()),
            })
            .collect();
        Self {
            enabled: cfg.enabled,
            origins,
            methods: cfg
                .allowed_methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            headers: cfg
                .allowed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            exposed: cfg.exposed_headers.join(", "),
            credentials: cfg.allow_credentials,
            max_age: cfg.max_age,
        }
    }

    /// The origins the cross-site guard should also let through: every listed one except `*`
    /// (a CORS "anyone" must not switch the guard off) and the wildcard forms it cannot read.
    pub fn guard_origins(cfg: &CorsConfig) -> Vec<String> {
        if !cfg.enabled {
            return Vec::new();
        }
        cfg.allowed_origins
            .iter()
            .filter(|o| !o.contains('*') || (o.matches('*').count() == 1 && o.contains("://*.")))
            .cloned()
            .collect()
    }

    fn allows_origin(&self, origin: &str) -> bool {
        let o = origin.to_ascii_lowercase();
        self.origins.iter().any(|p| match p {
            OriginPattern::Any => true,
            OriginPattern::Exact(e) => *e == o,
            OriginPattern::Wildcard(a, b) => {
                o.len() >= a.len() + b.len() && o.starts_with(a.as_str()) && o.ends_with(b.as_str())
            }
        })
    }

    fn allows_headers(&self, requested: &str) -> bool {
        requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| h == "origin" || self.headers.iter().any(|a| a == "*" || *a == h))
    }

    fn allow_origin_value(&self, origin: &str) -> String {
        // With credentials a browser refuses `*`, so the origin is echoed back.
        if !self.credentials && self.origins.contains(&OriginPattern::Any) {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    /// The preflight answer: 204, with the grant headers only when everything asked is allowed.
    fn preflight(&self, headers: &HeaderMap, origin: &str) -> HttpResponse {
        let mut res = HttpResponse::NoContent();
        res.insert_header((
            header::VARY,
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ));
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let method = text("access-control-request-method").to_ascii_uppercase();
        let asked = text("access-control-request-headers");
        let granted = self.allows_origin(origin)
            && (method == "OPTIONS" || self.methods.contains(&method))
            && self.allows_headers(asked);
        if !granted {
            tracing::debug!(origin, method, "CORS preflight refused");
            return res.finish();
        }
        res.insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(origin),
        ));
        res.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, method));
        if !asked.is_empty() {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked.to_owned()));
        }
        if self.credentials {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
        }
        if self.max_age > 0 {
            res.insert_header((header::ACCESS_CONTROL_MAX_AGE, self.max_age.to_string()));
        }
        res.finish()
    }

    fn decorate(&self, headers: &mut HeaderMap, origin: &str) {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if !self.allows_origin(origin) {
            return;
        }
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            &self.allow_origin_value(origin),
        );
        if self.credentials {
            set(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        if !self.exposed.is_empty() {
            set(header::ACCESS_CONTROL_EXPOSE_HEADERS, &self.exposed.clone());
        }
    }
}

pub async fn cors<B: MessageBody>(
    policy: std::sync::Arc<Cors>,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin.filter(|_| policy.enabled) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.method() == Method::OPTIONS
        && req.headers().contains_key("access-control-request-method")
    {
        let res = policy.preflight(req.headers(), &origin);
        debug_assert_eq!(res.status(), StatusCode::NO_CONTENT);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    policy.decorate(res.headers_mut(), &origin);
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> Cors {
        Cors::new(&CorsConfig {
            enabled: true,
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            ..CorsConfig::default()
        })
    }

    #[test]
    fn wildcards_stand_for_any_characters_once() {
        let p = policy(&["https://*.example.com", "http://127.0.0.1:4455"]);
        assert!(p.allows_origin("https://app.example.com"));
        assert!(p.allows_origin("https://a.b.example.com"));
        assert!(!p.allows_origin("https://example.org"));
        assert!(!p.allows_origin("http://app.example.com"));
        assert!(p.allows_origin("http://127.0.0.1:4455"));
        assert!(!p.allows_origin("http://127.0.0.1:4456"));
        assert!(policy(&["*"]).allows_origin("https://anything.test"));
    }

    #[test]
    fn origin_entries_are_checked() {
        assert!(check_origin("*").is_ok());
        assert!(check_origin("https://*.example.com").is_ok());
        assert!(check_origin("https://*.*.example.com").is_err());
        assert!(check_origin("not an origin").is_err());
    }

    #[test]
    fn headers_are_compared_without_case() {
        let p = policy(&["*"]);
        assert!(p.allows_headers("content-type, X-Session-Token"));
        assert!(!p.allows_headers("X-Custom"));
        assert!(p.allows_headers(""));
    }

    #[test]
    fn the_guard_gets_only_origins_it_can_read() {
        let cfg = CorsConfig {
            enabled: true,
            allowed_origins: vec![
                "*".into(),
                "https://*.a.test".into(),
                "https://b.test".into(),
                "http://c*.test".into(),
            ],
            ..CorsConfig::default()
        };
        assert_eq!(
            Cors::guard_origins(&cfg),
            ["https://*.a.test", "https://b.test"]
        );
    }
}
