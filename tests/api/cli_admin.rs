//! The `verity` commands that talk to a running server or a database.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{TempDir, json_with_status, spawn_app};

fn verity() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verity"))
}

async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || verity().args(&args).output().expect("run verity"))
        .await
        .unwrap()
}

#[tokio::test]
async fn identities_commands_import_list_get_and_delete() {
    let app = spawn_app().await;
    let dir = TempDir::new();
    let file = dir.0.join("users.json");
    std::fs::write(
        &file,
        r#"[{"schema_id": "default", "traits": {"email": "one@example.com"}},
            {"schema_id": "default", "traits": {"email": "two@example.com"},
             "verifiable_addresses": [{"value": "two@example.com", "via": "email", "verified": true}]},
            {"schema_id": "default", "traits": {"email": "not-an-email"}}]"#,
    )
    .unwrap();
    let endpoint = format!("{}/", app.admin);
    let out = run(vec![
        "identities".into(),
        "import".into(),
        file.display().to_string(),
        "--endpoint".into(),
        endpoint.clone(),
    ])
    .await;
    assert!(
        !out.status.success(),
        "one of three is invalid, so import reports failure"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 3 identities could not be imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("#/traits/email"),
        "the failure says why: {stderr}"
    );

    let out = run(vec![
        "identities".into(),
        "list".into(),
        "--endpoint".into(),
        endpoint.clone(),
    ])
    .await;
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    let out = run(vec![
        "identities".into(),
        "list".into(),
        "--identifier".into(),
        "TWO@example.com".into(),
        "--endpoint".into(),
        endpoint.clone(),
    ])
    .await;
    let two: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        two[0]["verifiable_addresses"][0]["verified"], true,
        "imported as verified"
    );
    let id = two[0]["id"].as_str().unwrap().to_owned();

    let out = run(vec![
        "identities".into(),
        "get".into(),
        id.clone(),
        "--endpoint".into(),
        endpoint.clone(),
    ])
    .await;
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["id"], id.as_str());

    let out = run(vec![
        "identities".into(),
        "delete".into(),
        id.clone(),
        "--endpoint".into(),
        endpoint.clone(),
    ])
    .await;
    assert!(out.status.success());
    json_with_status(app.get_admin(&format!("/admin/identities/{id}")).await, 404).await;
    let out = run(vec![
        "identities".into(),
        "get".into(),
        id,
        "--endpoint".into(),
        endpoint,
    ])
    .await;
    assert!(!out.status.success(), "a deleted identity is not found");
}

#[tokio::test]
async fn migrate_sql_lists_then_applies_pending_steps() {
    let dir = TempDir::new();
    let dsn = format!("sqlite://{}/m.sqlite?mode=rwc", dir.0.display());
    let out = run(vec!["migrate".into(), "sql".into(), dsn.clone()]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pending") && text.contains("Nothing was applied."),
        "{text}"
    );
    let out = run(vec![
        "migrate".into(),
        "sql".into(),
        "--yes".into(),
        dsn.clone(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec!["migrate".into(), "sql".into(), dsn]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}
