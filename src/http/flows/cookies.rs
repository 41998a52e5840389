//! The CSRF and session cookies.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

use crate::http::{AppState, now};
use crate::session::Session;

fn csrf_cookie_name(st: &AppState) -> String {
    crate::csrf::cookie_name(st.urls.public.as_str())
}

/// The unmasked token of the request's CSRF cookie, if it carries a valid one.
pub fn csrf_from_cookie(st: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(&csrf_cookie_name(st))
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
}

fn secure(st: &AppState) -> bool {
    st.settings.cookies.secure.unwrap_or(!st.dev)
}

fn same_site(st: &AppState, configured: Option<crate::config::SameSite>) -> SameSite {
    match configured.unwrap_or(st.settings.cookies.same_site) {
        crate::config::SameSite::Strict => SameSite::Strict,
        crate::config::SameSite::None if secure(st) => SameSite::None,
        _ => SameSite::Lax,
    }
}

pub fn csrf_cookie(st: &AppState, token: String) -> Cookie<'static> {
    let cfg = &st.settings.cookies;
    let mut c = Cookie::build(csrf_cookie_name(st), token)
        .path(cfg.path.clone())
        .http_only(true)
        .secure(secure(st))
        .same_site(same_site(st, None))
        .max_age(CookieDuration::days(365))
        .finish();
    if let Some(d) = &cfg.domain {
        c.set_domain(d.clone());
    }
    c
}

/// `ory_kratos_session`: HttpOnly, Secure outside `--dev`, SameSite=Lax unless configured.
pub fn session_cookie(st: &AppState, token: &str, session: Option<&Session>) -> Cookie<'static> {
    let cfg = &st.settings.session.cookie;
    let mut c = Cookie::build(cfg.name.clone(), token.to_owned())
        .path(
            cfg.path
                .clone()
                .unwrap_or_else(|| st.settings.cookies.path.clone()),
        )
        .http_only(true)
        .secure(secure(st))
        .same_site(same_site(st, cfg.same_site))
        .finish();
    if let (true, Some(s)) = (cfg.persistent, session) {
        let secs = (s.expires_at - now()).num_seconds().max(0);
        c.set_max_age(CookieDuration::seconds(secs));
    }
    if let Some(d) = cfg
        .domain
        .clone()
        .or_else(|| st.settings.cookies.domain.clone())
    {
        c.set_domain(d);
    }
    c
}

/// A cookie that deletes the session cookie.
pub fn expired_session_cookie(st: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(st, "", None);
    c.make_removal();
    c
}

/// `verity_device` after a sign-in or recovery of `identity`: the browser's marks with the
/// identity's identifiers first (keyed hashes; HttpOnly, a year). A browser that carries one
/// is spared the identifier's hard lock (`ratelimit::lockout`).
pub fn device_cookie(
    st: &AppState,
    req: &HttpRequest,
    identity: &crate::identity::Identity,
) -> Cookie<'static> {
    let identifiers: Vec<String> = ["password", "code"]
        .iter()
        .filter_map(|k| identity.credential(k))
        .flat_map(|c| c.identifiers.iter().cloned())
        .collect();
    let old = req.cookie(crate::ratelimit::lockout::DEVICE_COOKIE);
    let value = crate::ratelimit::lockout::remember(
        &st.keyring,
        old.as_ref().map(|c| c.value()),
        &identifiers,
    );
    let cfg = &st.settings.cookies;
    let mut c = Cookie::build(crate::ratelimit::lockout::DEVICE_COOKIE, value)
        .path(cfg.path.clone())
        .http_only(true)
        .secure(secure(st))
        .same_site(same_site(st, None))
        .max_age(CookieDuration::days(365))
        .finish();
    if let Some(d) = &cfg.domain {
        c.set_domain(d.clone());
    }
    c
}
