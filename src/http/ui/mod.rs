//! `/ui/*`: Verity's built-in browser pages, rendered on the server from the flows' `ui`
//! containers, and the self-service error store (`/self-service/errors`).

mod errors;
mod flows;
pub mod home;
mod polish;
mod verification;

use std::path::Path;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::UiConfig;
use crate::http::ApiError;
use crate::http::AppState as Registry;
use crate::ui::{Renderer, UiError};

pub use errors::{forward_to_error_ui, render_error};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .route("/ui", web::get().to(home_page))
        .route("/ui/", web::get().to(home_page))
        .route("/ui/verification", web::get().to(verification::page))
        .route("/ui/login", web::get().to(flows::login))
        .route("/ui/registration", web::get().to(flows::registration))
        .route("/ui/settings", web::get().to(flows::settings))
        .route("/ui/recovery", web::get().to(flows::recovery))
        .route("/ui/error", web::get().to(errors::page))
        .route("/ui/static/verity.css", web::get().to(stylesheet))
        .route("/self-service/errors", web::get().to(errors::get_error));
}

/// The admin port answers `GET /self-service/errors` too, with and without `/admin`.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/self-service/errors",
        web::get().to(errors::get_error),
    )
    .route("/self-service/errors", web::get().to(errors::get_error));
}

/// The pages' state, built once at start: the compiled templates and text catalogues, and
/// the count of stored errors that paces their purge.
pub struct Ui {
    pub renderer: Renderer,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ui({:?})", self.renderer)
    }
}

impl Ui {
    /// Loads `ui.templates_dir` over the built-in templates; fails when a template does not
    /// compile or `ui.locale` has no catalogue.
    pub fn load(cfg: &UiConfig) -> Result<Self, UiError> {
        Ok(Self {
            renderer: Renderer::load(cfg.templates_dir.as_deref().map(Path::new), &cfg.locale)?,
        })
    }
}

/// `?flow=&return_to=` of every flow page.
#[derive(Deserialize)]
pub(super) struct PageQuery {
    flow: Option<String>,
    return_to: Option<String>,
}

impl PageQuery {
    fn flow_id(&self) -> Option<uuid::Uuid> {
        self.flow
            .as_deref()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    }
}

/// `/self-service/<kind>/browser`, keeping where the user wanted to go afterwards.
pub(super) fn browser_url(reg: &Registry, kind: &str, return_to: Option<&str>) -> String {
    let mut url = format!("{}self-service/{kind}/browser", reg.urls.public);
    if let Some(r) = return_to.filter(|r| !r.is_empty()) {
        url.push_str("?return_to=");
        url.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    url
}

/// A new browser flow of `kind`.
fn restart(reg: &Registry, kind: &str, return_to: Option<&str>) -> HttpResponse {
    see_other(&browser_url(reg, kind, return_to))
}

/// How long after its start a flow counts as just started by the init endpoint.
const JUST_STARTED: chrono::Duration = chrono::Duration::seconds(5);

/// A flow this browser may not see (or that expired): a new one, unless the flow was started
/// a moment ago and the request carries no CSRF cookie at all. Then the init endpoint has just
/// set that cookie and the client did not keep it; starting again would only mint another
/// flow, and a client that follows redirects without cookies would go round for ever. The
/// error page says what is missing instead.
fn restart_or_refuse(
    reg: &Registry,
    req: &HttpRequest,
    kind: &str,
    flow: &crate::flow::core::Flow,
) -> HttpResponse {
    let name = crate::csrf::cookie_name(reg.urls.public.as_str());
    let just_started = crate::http::now() - flow.issued_at < JUST_STARTED;
    if just_started && req.cookie(&name).is_none() && !flow.is_expired(crate::http::now()) {
        let err = ApiError::bad_request(
            "This browser did not keep the cookie this page needs. Allow cookies for this \
             site, then open the page again.",
        );
        return errors::render_error(reg, req, &err);
    }
    restart(reg, kind, flow.return_to.as_deref())
}

/// The same check as the flows' JSON endpoints: a browser flow is shown only to the browser
/// holding its CSRF cookie.
fn belongs_to_browser(reg: &Registry, req: &HttpRequest, is_browser: bool, csrf: &str) -> bool {
    if !is_browser {
        return true;
    }
    let name = crate::csrf::cookie_name(reg.urls.public.as_str());
    req.cookie(&name)
        .map(|c| c.value().to_owned())
        .filter(|v| crate::csrf::is_valid_token(v))
        .is_some_and(|c| crate::csrf::verify(csrf, &c))
}

/// A renderer and the language of this request.
pub(crate) struct Page<'a> {
    pub renderer: &'a Renderer,
    pub lang: String,
    /// This page's URL, for the dev inbox's way back.
    here: String,
}

impl<'a> Page<'a> {
    /// `Accept-Language` picks among the available catalogues; `ui.locale` is the default.
    pub fn new(reg: &'a Registry, req: &HttpRequest) -> Self {
        let renderer = &reg.ui.renderer;
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let lang = renderer
            .catalogue
            .negotiate(accept, &reg.settings.ui.locale);
        let here = match req.query_string() {
            "" => format!(
                "{}{}",
                reg.urls.public.as_str().trim_end_matches('/'),
                req.path()
            ),
            q => format!(
                "{}{}?{q}",
                reg.urls.public.as_str().trim_end_matches('/'),
                req.path()
            ),
        };
        Self {
            renderer,
            lang,
            here,
        }
    }

    /// A page string of this language (empty when the key is unknown).
    pub fn text(&self, key: &str) -> String {
        self.renderer
            .catalogue
            .entry(&self.lang, key)
            .unwrap_or_default()
            .to_owned()
    }

    pub fn form(&self, ui: &Value) -> Value {
        self.renderer.form(&self.lang, ui)
    }

    /// Renders `template` with the keys every page has (`lang`, `t`, `title`, links) and
    /// the page's own `model` on top.
    pub fn render(
        &self,
        reg: &Registry,
        status: StatusCode,
        template: &str,
        title: &str,
        model: Value,
    ) -> Result<HttpResponse, ApiError> {
        let public = reg.urls.public.as_str();
        let (_, etag) = self.renderer.css();
        let mut ctx = Map::new();
        ctx.insert("lang".into(), json!(self.lang));
        ctx.insert(
            "t".into(),
            Value::Object(self.renderer.catalogue.page_strings(&self.lang)),
        );
        ctx.insert("title".into(), json!(title));
        ctx.insert(
            "css_href".into(),
            json!(format!(
                "{public}ui/static/verity.css?v={}",
                etag.trim_matches('"')
            )),
        );
        ctx.insert("home_href".into(), json!(format!("{public}ui/")));
        ctx.insert(
            "dev_inbox".into(),
            json!(reg.dev.then(|| {
                let back: String =
                    url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
                format!("{}admin/dev/inbox?back={back}", reg.urls.admin)
            })),
        );
        if let Value::Object(m) = model {
            ctx.extend(m);
        }
        let body = self
            .renderer
            .render(template, &Value::Object(ctx))
            .map_err(|e| {
                tracing::error!(error = %e, "rendering a UI page failed");
                ApiError::internal()
            })?;
        Ok(html(status, body))
    }
}

/// An HTML page: never cached (forms carry CSRF tokens), never framed, no scripts.
fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(body)
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `/`: a browser goes to the built-in pages when they are in use (`--dev`, or no
/// `login.ui_url` pointing elsewhere); anything else gets the JSON 404 it always got.
async fn root(reg: web::Data<Registry>, req: HttpRequest) -> HttpResponse {
    let builtin = reg.dev || reg.settings.selfservice.flows.login.ui_url.is_none();
    if builtin && !crate::http::negotiate::is_json_request(&req) {
        return see_other(&format!("{}ui/", reg.urls.public));
    }
    actix_web::ResponseError::error_response(&ApiError::not_found())
}

async fn home_page(reg: web::Data<Registry>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let page = Page::new(&reg, &req);
    let model = home::home_context(&reg, &req).await?;
    page.render(
        &reg,
        StatusCode::OK,
        "home",
        &page.text("home_title"),
        model,
    )
}

async fn stylesheet(reg: web::Data<Registry>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let page = Page::new(&reg, &req);
    let (css, etag) = page.renderer.css();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::ETAG, etag.to_owned()));
    if fresh {
        return Ok(resp.finish());
    }
    Ok(resp
        .content_type("text/css; charset=utf-8")
        .body(css.to_owned()))
}
