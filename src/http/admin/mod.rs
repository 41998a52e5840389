//! Admin API routes.

mod identities;
mod view;

use actix_web::web;

pub use view::identity_json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    identities::configure(cfg);
}
