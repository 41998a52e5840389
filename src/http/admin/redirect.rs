//! Kratos answers self-service and schema paths on the admin port with a 307 to the public
//! URL.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::AppState as Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in [
        "/self-service/verification",
        "/self-service/verification/browser",
        "/self-service/verification/api",
        "/self-service/verification/flows",
    ] {
        cfg.route(path, web::route().to(to_public));
    }
    // Identity schemas are read on the public port; SDKs configured with the admin URL
    // follow the 307 (Kratos registers these for GET only, with and without `/admin`).
    for path in [
        "/schemas",
        "/schemas/{id}",
        "/admin/schemas",
        "/admin/schemas/{id}",
    ] {
        cfg.route(path, web::get().to(to_public));
    }
}

async fn to_public(reg: web::Data<Registry>, req: HttpRequest) -> HttpResponse {
    let base = reg.urls.public.as_str().trim_end_matches('/');
    let path = req.path();
    let path = path
        .strip_prefix("/admin")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    let location = match req.query_string() {
        "" => format!("{base}{path}"),
        q => format!("{base}{path}?{q}"),
    };
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}
