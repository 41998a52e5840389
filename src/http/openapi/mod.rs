//! The OpenAPI 3.1 document of every public and admin route, served at `GET /openapi.json` on
//! the admin port. It is built from one route table ([`routes`]), which also gives the 405
//! fallback its `Allow` header and which `tests/api/openapi.rs` checks against the routers.

mod document;
mod ops_admin;
mod ops_public;
pub mod routes;
mod schemas;

use actix_web::{HttpResponse, web};
use serde_json::Value;

pub use document::document;

/// Which port serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Public,
    Admin,
    Both,
}

impl Api {
    /// Whether a route of this kind is served on `port` (`Public` or `Admin`).
    pub fn serves(self, port: Api) -> bool {
        self == Api::Both || self == port
    }

    /// The operation's tags: the ports that serve it (`public`, `admin`).
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Api::Public => &["public"],
            Api::Admin => &["admin"],
            Api::Both => &["public", "admin"],
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(serve));
}

async fn serve() -> HttpResponse {
    let doc: &Value = document();
    HttpResponse::Ok().json(doc)
}
