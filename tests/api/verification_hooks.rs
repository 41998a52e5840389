//! After-verification web hooks (`selfservice.flows.verification.after.hooks`).

use serde_json::{Value, json};
use verity::config::HookConfig;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{json_with_status, spawn_with};
use crate::verification_support::{create_email_identity, inbox_code};

fn hook(url: &str) -> HookConfig {
    HookConfig {
        hook: "web_hook".into(),
        config: Some(json!({
            "url": url,
            "method": "POST",
            "body": "function(ctx) { flow_state: ctx.flow.state, email: ctx.identity.traits.email, verified: ctx.identity.verifiable_addresses[0].verified }"
        })),
    }
}

async fn send_and_submit(app: &crate::helpers::TestApp, email: &str) -> reqwest::Response {
    let flow = json_with_status(
        app.http
            .get(format!("{}/self-service/verification/api", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let url = format!("{}/self-service/verification?flow={id}", app.public);
    let sent = app
        .http
        .post(&url)
        .header("accept", "application/json")
        .json(&json!({"method": "code", "email": email}))
        .send()
        .await
        .unwrap();
    json_with_status(sent, 200).await;
    let code = inbox_code(app, email).await;
    app.http
        .post(&url)
        .header("accept", "application/json")
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn web_hook_receives_the_verified_identity() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/verified"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/verified", server.uri());
    let app = spawn_with(|s| s.selfservice.flows.verification.after.hooks = vec![hook(&url)]).await;
    create_email_identity(&app, "hooked@example.com").await;
    let done = json_with_status(send_and_submit(&app, "hooked@example.com").await, 200).await;
    assert_eq!(done["state"], "passed_challenge");
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({"flow_state": "passed_challenge", "email": "hooked@example.com", "verified": true})
    );
}

#[tokio::test]
async fn a_failing_web_hook_replaces_the_flow() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let url = format!("{}/verified", server.uri());
    let app = spawn_with(|s| s.selfservice.flows.verification.after.hooks = vec![hook(&url)]).await;
    create_email_identity(&app, "hooked@example.com").await;
    let body = json_with_status(send_and_submit(&app, "hooked@example.com").await, 410).await;
    assert_eq!(body["error"]["id"], "self_service_flow_replaced");
    let new = body["use_flow_id"].as_str().unwrap();
    let flow = json_with_status(
        app.http
            .get(format!(
                "{}/self-service/verification/flows?id={new}",
                app.public
            ))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // A fixed text, not the hook's error: that named the hook's URL (and any `?api_key=`)
    // and used to be shown as a 4000001 reason.
    assert_eq!(flow["ui"]["messages"][0]["id"], 5000001);
    assert!(!flow.to_string().contains(&server.uri()), "{flow}");
    assert!(!body.to_string().contains(&server.uri()), "{body}");
}

#[tokio::test]
async fn an_invalid_hook_config_stops_start_up() {
    let hooks = vec![HookConfig {
        hook: "web_hook".into(),
        config: Some(json!({"url": "ftp://nowhere"})),
    }];
    let dir = crate::helpers::TempDir::new();
    let mut settings =
        crate::helpers::base_settings(&format!("sqlite://{}/v.sqlite?mode=rwc", dir.0.display()));
    settings.selfservice.flows.verification.after.hooks = hooks;
    let source = verity::config::ConfigSource::File(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml").into(),
    );
    let err = verity::startup::Application::build(settings, &source, true, true)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("verification.after.hooks"),
        "{err:#}"
    );
}
