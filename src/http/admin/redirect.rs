//! Kratos answers self-service paths on the admin port with a 307 to the public URL.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::startup::Registry;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in [
        "/self-service/verification",
        "/self-service/verification/browser",
        "/self-service/verification/api",
        "/self-service/verification/flows",
    ] {
        cfg.route(path, web::route().to(to_public));
    }
}

async fn to_public(reg: web::Data<Registry>, req: HttpRequest) -> HttpResponse {
    let base = reg.urls.public.as_str().trim_end_matches('/');
    let location = match req.query_string() {
        "" => format!("{base}{}", req.path()),
        q => format!("{base}{}?{q}", req.path()),
    };
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}
