//! The official Ory JavaScript SDKs (`@ory/client-fetch` and the Kratos client
//! `@ory/kratos-client` 26.2.0, from npm) drive flows against the running server, unmodified.
//! Needs node and `npm ci` in tests/sdk.

use crate::helpers::{TestApp, spawn_app, spawn_postgres_with};

fn sdk_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Whether node and the npm packages are there; without them the test skips loudly, and
/// fails under CI.
fn ready() -> bool {
    let ready = ["@ory/client-fetch", "@ory/kratos-client"]
        .iter()
        .all(|p| sdk_dir().join("node_modules").join(p).exists())
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ready {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the SDK test: install node and run `npm ci` in tests/sdk"
        );
        eprintln!("\n*** SKIPPED: the Ory SDK test needs node and `npm ci` in tests/sdk ***\n");
    }
    ready
}

/// Runs `script` (in tests/sdk) against a fresh server with the default config.
async fn run_sdk(script: &'static str) {
    if ready() {
        run_against(&spawn_app().await, script).await;
    }
}

async fn run_against(app: &TestApp, script: &'static str) {
    let (public, admin) = (app.public.clone(), app.admin.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(&public)
            .arg(&admin)
            .current_dir(sdk_dir())
            .output()
    })
    .await
    .unwrap()
    .expect("run node");
    assert!(
        out.status.success(),
        "SDK run of {script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn ory_javascript_sdk_verifies_an_email() {
    run_sdk("verify.mjs").await;
}

/// Sign-up (continue_with show_verification_ui), the emailed code, login, whoami; and a
/// login before verifying, which the SDK raises as 403 session_verified_address_required.
#[tokio::test]
async fn ory_javascript_sdk_signs_up_verifies_and_logs_in() {
    run_sdk("signup.mjs").await;
}

/// Browser and SPA flows with the Kratos v26.2 client: sign-up, verification, sign-in (a wrong
/// password answers the flow), settings, logout, and the admin routes it calls.
#[tokio::test]
async fn ory_kratos_client_drives_the_browser_flows() {
    run_sdk("browser.mjs").await;
}

#[tokio::test]
async fn ory_kratos_client_drives_the_browser_flows_on_postgres() {
    if !ready() {
        return;
    }
    let Some(app) = spawn_postgres_with(|_| {}).await else {
        return;
    };
    run_against(&app, "browser.mjs").await;
}

/// Recovery by code with the SDK: the emailed code, `continue_with` (session token and
/// settings flow), a new password through that flow; and an admin-issued recovery code.
#[tokio::test]
async fn ory_javascript_sdk_recovers_an_account() {
    run_sdk("recovery.mjs").await;
}
