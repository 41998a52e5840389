//! Admin API routes.

mod api_keys;
mod courier;
mod dev_inbox;
mod identities;
mod identities_legacy;
mod recovery;
mod redirect;
mod sessions;
mod view;

use actix_web::web;

pub use view::identity_json;

/// Self-service paths that the admin port redirects to the public port.
pub use redirect::configure as configure_redirects;

pub fn configure(cfg: &mut web::ServiceConfig) {
    identities::configure(cfg);
    api_keys::configure(cfg);
    courier::configure(cfg);
    dev_inbox::configure(cfg);
    sessions::configure(cfg);
    recovery::configure(cfg);
}
