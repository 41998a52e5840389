//! Public self-service routes.

mod phone;
mod verification;
mod verification_errors;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    verification::configure(cfg);
    phone::configure(cfg);
}
