//! Public self-service routes.

mod verification;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    verification::configure(cfg);
}
