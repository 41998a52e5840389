//! Public routes beside the self-service flows: sessions, social sign-in callbacks and the
//! partner phone API.

mod oidc;
mod phone;
pub(crate) mod sessions;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::http::flows::configure(cfg);
    phone::configure(cfg);
    oidc::configure(cfg);
    sessions::configure(cfg);
}
