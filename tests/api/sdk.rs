//! The official Ory JavaScript SDK (`@ory/client-fetch`, from npm) drives a verification flow
//! against the running server, unmodified. Needs node and `npm ci` in tests/sdk.

use crate::helpers::spawn_app;

fn sdk_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

#[tokio::test]
async fn ory_javascript_sdk_verifies_an_email() {
    let ready = sdk_dir().join("node_modules/@ory/client-fetch").exists()
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
        return;
    }
    let app = spawn_app().await;
    let (public, admin) = (app.public.clone(), app.admin.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("verify.mjs")
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
        "SDK run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
