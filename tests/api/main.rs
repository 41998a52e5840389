//! Black-box tests: each starts the real server on port 0 with a fresh database.

mod admin_identities;
mod cli_admin;
mod config_cli;
mod courier;
mod db_outage;
mod health;
mod helpers;
mod logs;
mod phone_api;
mod phone_support;
mod sdk;
mod support_smtp;
mod verification_code;
mod verification_code_flows;
mod verification_code_forms;
mod verification_concurrency;
mod verification_errors;
mod verification_hooks;
mod verification_link;
mod verification_phone;
mod verification_ratelimit;
mod verification_security;
mod verification_support;
