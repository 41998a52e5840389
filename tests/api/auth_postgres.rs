//! Sign-up, verification, login, settings-free session use and the duplicate sign-up race on
//! PostgreSQL (skipped loudly without TEST_DATABASE_URL, failing under CI).

use serde_json::Value;

use crate::auth_support::{FlowClient, PASSWORD, login_token, register_verified, sign_up};
use crate::helpers::spawn_postgres_with;
use crate::verification_support::Kind;

#[tokio::test]
async fn sign_up_verify_and_log_in_on_postgres() {
    // The in-server courier worker stays off (see verification_concurrency.rs); the dev
    // inbox lists queued messages anyway.
    let Some(app) = spawn_postgres_with(|s| {
        s.courier.worker.enabled = false;
        s.selfservice.rate_limits.enabled = false;
    })
    .await
    else {
        return;
    };
    register_verified(&app, "pg@example.com").await;
    let token = login_token(&app, "pg@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let me = c.whoami(&app, Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["identity"]["verified"], true);

    let mut tasks = Vec::new();
    for _ in 0..30 {
        let public = app.public.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let flow: Value = http
                .get(format!("{public}/self-service/registration/api"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            http.post(format!(
                "{public}/self-service/registration?flow={}",
                flow["id"].as_str().unwrap()
            ))
            .header("Accept", "application/json")
            .json(&sign_up("pg-race@example.com", PASSWORD))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 503, "{status}");
    }
    let found = app
        .store()
        .list_identities(None, 10, Some("pg-race@example.com"))
        .await
        .unwrap();
    assert_eq!(found.identities.len(), 1, "one identity for one address");
}
