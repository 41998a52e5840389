//! Cross-site request refusal for the public self-service routes (OWASP CSRF Cheat Sheet,
//! "Fetch Metadata"; SECURITY.md E2), in front of the CSRF token checks the flows do.
//!
//! A state-changing request (POST, PUT, PATCH, DELETE) to `/self-service/…` or `/sessions…`
//! is refused with 403 before any work when
//! - the browser says `Sec-Fetch-Site: cross-site` and its `Origin` is not an allowed origin, or
//! - there is no Fetch Metadata (older browsers), the request carries cookies and its `Origin`
//!   is `null` or a foreign origin. Without cookies a forged request acts for nobody (browser
//!   flows check a CSRF cookie), and Kratos answers an api flow's `Origin` with its own 4000001.
//!
//! `same-origin`, `same-site` and `none` (typed in, bookmarks) pass, and so do requests with
//! neither header: native apps, SDKs and servers send none. Allowed origins are the public
//! base URL's, the flows' `ui_url`s', `protection.fetch_metadata.allowed_origins` and the CORS
//! origins the caller adds. `exempt_paths` (the OIDC callback, which providers post to with
//! `response_mode=form_post`) are never refused.

use actix_web::http::Method;
use actix_web::http::header::{COOKIE, HeaderMap, ORIGIN};
use url::Url;

use crate::config::FetchMetadataConfig;

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// One allowed origin: scheme, host (or `*.` and a parent domain) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginRule {
    scheme: String,
    host: HostRule,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Exact(String),
    /// Any subdomain of this domain (not the domain itself), label-bounded.
    Subdomains(String),
}

impl OriginRule {
    /// `https://app.example.com`, `https://*.example.com:8443`, or any URL (its origin).
    fn parse(raw: &str) -> Result<Self, String> {
        let wildcard = raw.contains("://*.");
        let url = Url::parse(&raw.replacen("://*.", "://", 1)).map_err(|e| {
            format!("{raw:?} is not an origin such as https://app.example.com: {e}")
        })?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("{raw:?} has no host"))?
            .to_ascii_lowercase();
        Ok(Self {
            scheme: url.scheme().to_owned(),
            host: if wildcard {
                HostRule::Subdomains(host)
            } else {
                HostRule::Exact(host)
            },
            port: url.port_or_known_default(),
        })
    }

    fn matches(&self, origin: &Url) -> bool {
        let Some(host) = origin.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        origin.scheme() == self.scheme
            && origin.port_or_known_default() == self.port
            && match &self.host {
                HostRule::Exact(h) => &host == h,
                HostRule::Subdomains(parent) => host
                    .strip_suffix(parent.as_str())
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            }
    }
}

#[derive(Debug, Clone)]
pub struct CrossSitePolicy {
    enabled: bool,
    allowed: Vec<OriginRule>,
    exempt: Vec<String>,
}

impl CrossSitePolicy {
    /// `own` are the server's own origins (public base URL, `ui_url`s); `cors` the CORS
    /// allowed origins, when CORS is configured. A bad entry is an error naming it.
    pub fn new<'a>(
        cfg: &FetchMetadataConfig,
        own: impl IntoIterator<Item = &'a str>,
        cors: &'a [String],
    ) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for raw in own.into_iter().chain(cors.iter().map(String::as_str)) {
            allowed.push(OriginRule::parse(raw)?);
        }
        for raw in &cfg.allowed_origins {
            allowed.push(
                OriginRule::parse(raw)
                    .map_err(|e| format!("protection.fetch_metadata.allowed_origins: {e}"))?,
            );
        }
        Ok(Self {
            enabled: cfg.enabled,
            allowed,
            exempt: cfg.exempt_paths.clone(),
        })
    }

    /// Whether the request must be refused; reads only the method, the path and two headers.
    pub fn refuses(&self, method: &Method, path: &str, headers: &HeaderMap) -> bool {
        if !self.enabled || !state_changing(method) || !guarded(path) {
            return false;
        }
        if self.exempt.iter().any(|p| path.starts_with(p.as_str())) {
            return false;
        }
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let origin = header(ORIGIN.as_str()).map(str::trim);
        match header(SEC_FETCH_SITE)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("same-origin" | "same-site" | "none") => false,
            Some("cross-site") => !origin.is_some_and(|o| self.allowed_origin(o)),
            // No (or an unknown) Fetch Metadata value: a cookie-carrying request's Origin decides.
            _ => headers.contains_key(COOKIE) && origin.is_some_and(|o| !self.allowed_origin(o)),
        }
    }

    fn allowed_origin(&self, origin: &str) -> bool {
        // `null` (sandboxed documents, cross-origin redirects) never parses as a URL.
        match Url::parse(origin) {
            Ok(url) => self.allowed.iter().any(|rule| rule.matches(&url)),
            Err(_) => false,
        }
    }
}

fn state_changing(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn guarded(path: &str) -> bool {
    path == "/self-service"
        || path.starts_with("/self-service/")
        || path == "/sessions"
        || path.starts_with("/sessions/")
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn policy(extra: &[&str]) -> CrossSitePolicy {
        let cfg = FetchMetadataConfig {
            allowed_origins: extra.iter().map(|s| (*s).to_owned()).collect(),
            ..FetchMetadataConfig::default()
        };
        let own = ["https://auth.example.com/", "https://app.example.com/login"];
        CrossSitePolicy::new(&cfg, own, &["https://spa.partner.test".to_owned()]).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const LOGIN: &str = "/self-service/login";

    #[test]
    fn cross_site_posts_are_refused_unless_the_origin_is_allowed() {
        let p = policy(&["https://*.trusted.test"]);
        let post = Method::POST;
        let cross = |origin| headers(&[("sec-fetch-site", "cross-site"), ("origin", origin)]);
        assert!(p.refuses(&post, LOGIN, &cross("https://evil.test")));
        assert!(p.refuses(&post, LOGIN, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!p.refuses(&post, LOGIN, &cross("https://app.example.com")));
        assert!(!p.refuses(&post, LOGIN, &cross("https://spa.partner.test")));
        assert!(!p.refuses(&post, LOGIN, &cross("https://a.trusted.test")));
        assert!(p.refuses(&post, LOGIN, &cross("https://trusted.test")));
        assert!(p.refuses(&post, LOGIN, &cross("https://eviltrusted.test")));
        assert!(
            p.refuses(&post, LOGIN, &cross("http://app.example.com")),
            "scheme"
        );
        assert!(
            p.refuses(&post, LOGIN, &cross("https://app.example.com:8443")),
            "port"
        );
        for m in [Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(p.refuses(&m, "/sessions/abc", &cross("https://evil.test")));
        }
    }

    #[test]
    fn same_site_safe_methods_other_routes_and_plain_clients_pass() {
        let p = policy(&[]);
        for site in ["same-origin", "same-site", "none"] {
            let h = headers(&[("sec-fetch-site", site), ("origin", "https://evil.test")]);
            assert!(!p.refuses(&Method::POST, LOGIN, &h), "{site}");
        }
        let cross = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.test"),
        ]);
        assert!(!p.refuses(&Method::GET, LOGIN, &cross));
        assert!(!p.refuses(&Method::POST, "/fraud/send-sms", &cross));
        assert!(!p.refuses(
            &Method::POST,
            "/self-service/methods/oidc/callback/acme",
            &cross
        ));
        assert!(
            !p.refuses(&Method::POST, LOGIN, &HeaderMap::new()),
            "native apps"
        );
    }

    #[test]
    fn without_fetch_metadata_the_origin_of_a_cookie_carrying_request_decides() {
        let p = policy(&[]);
        let origin = |o| headers(&[("origin", o), ("cookie", "csrf_token_x=y")]);
        assert!(p.refuses(&Method::POST, LOGIN, &origin("https://evil.test")));
        assert!(p.refuses(&Method::POST, LOGIN, &origin("null")));
        assert!(!p.refuses(&Method::POST, LOGIN, &origin("https://auth.example.com")));
        let no_cookie = headers(&[("origin", "https://evil.test")]);
        assert!(
            !p.refuses(&Method::POST, LOGIN, &no_cookie),
            "acts for nobody"
        );
    }

    #[test]
    fn off_switch_and_bad_origins() {
        let off = FetchMetadataConfig {
            enabled: false,
            ..FetchMetadataConfig::default()
        };
        let p = CrossSitePolicy::new(&off, [], &[]).unwrap();
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(!p.refuses(&Method::POST, LOGIN, &cross));
        let bad = FetchMetadataConfig {
            allowed_origins: vec!["not a url".into()],
            ..FetchMetadataConfig::default()
        };
        let err = CrossSitePolicy::new(&bad, [], &[]).unwrap_err();
        assert!(err.contains("allowed_origins"), "{err}");
    }
}
