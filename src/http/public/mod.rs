//! Public self-service routes.

mod forms;
mod login;
mod oidc;
mod phone;
mod registration;
pub(crate) mod sessions;
mod settings;
mod verification;
mod verification_errors;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    verification::configure(cfg);
    phone::configure(cfg);
    registration::configure(cfg);
    login::configure(cfg);
    oidc::configure(cfg);
    sessions::configure(cfg);
    settings::configure(cfg);
}
