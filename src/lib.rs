//! Verity: a self-hosted identity server with email and phone verification, wire-compatible
//! with Ory Kratos.

pub mod audit;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod courier;
pub mod crypto;
pub mod csrf;
pub mod delivery;
pub mod flow;
pub mod hash;
pub mod hooks;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod oidc;
pub mod password;
pub mod persistence;
pub mod phone;
pub mod ratelimit;
pub mod schema;
pub mod service;
pub mod session;
pub mod startup;
pub mod strategy;
pub mod telemetry;
pub mod text;
pub mod ui;

/// Installs the one TLS crypto provider (ring) for sqlx, lettre and reqwest. Call it first
/// in `main` and in every test binary; calling it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
