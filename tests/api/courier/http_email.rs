//! `courier.delivery_strategy: http`: every email is POSTed through Kratos's templated
//! `courier.http.request_config` (wiremock stands in for the mail API), with the courier's
//! retries and expiry.

use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use verity::courier::Channel;

use super::{admin_message, enqueue, secs, worker};
use crate::helpers::{TestApp, spawn_with};

async fn app_with_http_email(request_config: Value) -> TestApp {
    spawn_with(|s| {
        s.courier.worker.enabled = false;
        s.courier.delivery_strategy = "http".into();
        s.courier.http =
            Some(serde_json::from_value(json!({ "request_config": request_config })).unwrap());
    })
    .await
}

fn b64(s: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

#[tokio::test]
async fn the_default_body_carries_kratos_fields_and_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mail"))
        .and(basic_auth("mailer", "s3cret"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_with_http_email(json!({
        "url": format!("{}/mail", server.uri()),
        "auth": {"type": "basic_auth", "config": {"user": "mailer", "password": "s3cret"}},
    }))
    .await;
    let now = Utc::now();
    let id = enqueue(&app, Channel::Email, "ann@example.com", "314159", None, now).await;
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 1);
    let reqs = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["recipient"], "ann@example.com");
    assert_eq!(body["to"], "ann@example.com");
    assert_eq!(body["template_type"], "verification_code_valid");
    assert_eq!(body["verification_code"], "314159");
    assert_eq!(body["subject"], "Your verification code");
    assert!(body["body"].as_str().unwrap().contains("314159"));
    assert!(body["recovery_code"].is_null());
    assert_eq!(admin_message(&app, id).await["status"], "sent");
}

#[tokio::test]
async fn a_jsonnet_body_sees_subject_html_and_template_data_with_an_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v3/send"))
        .and(header("x-api-key", "k-123"))
        .and(header("x-tenant", "acme"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let body = "function(ctx) { to: ctx.recipient, subject: ctx.subject, html: ctx.html_body, \
                code: ctx.template_data.verification_code, kind: ctx.message_type }";
    let app = app_with_http_email(json!({
        "url": format!("{}/v3/send", server.uri()),
        "method": "put",
        "headers": {"X-Tenant": "acme"},
        "body": b64(body),
        "auth": {"type": "api_key", "config": {"name": "X-API-Key", "value": "k-123", "in": "header"}},
    }))
    .await;
    let now = Utc::now();
    enqueue(&app, Channel::Email, "bo@example.com", "271828", None, now).await;
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 1);
    let reqs = server.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(sent["to"], "bo@example.com");
    assert_eq!(sent["code"], "271828");
    assert_eq!(sent["kind"], "email");
    assert!(sent["html"].as_str().unwrap().contains("271828"), "{sent}");
}

#[tokio::test]
async fn server_errors_are_retried_client_errors_fail_and_dead_codes_expire() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let app = app_with_http_email(json!({"url": format!("{}/mail", server.uri())})).await;
    let w = worker(&app);
    let now = Utc::now();
    let id = enqueue(&app, Channel::Email, "cy@example.com", "1", None, now).await;
    assert_eq!(w.dispatch_once(now).await.unwrap().retried, 1);
    let m = admin_message(&app, id).await;
    assert!(m["last_error"].as_str().unwrap().contains("503"), "{m}");
    assert_eq!(w.dispatch_once(now + secs(5)).await.unwrap().sent, 1);

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    let bad = enqueue(&app, Channel::Email, "di@example.com", "2", None, now).await;
    assert_eq!(w.dispatch_once(now).await.unwrap().abandoned, 1);
    assert_eq!(admin_message(&app, bad).await["status"], "abandoned");

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let dying = enqueue(
        &app,
        Channel::Email,
        "ed@example.com",
        "3",
        Some(now + secs(3)),
        now,
    )
    .await;
    assert_eq!(w.dispatch_once(now).await.unwrap().retried, 1);
    assert_eq!(w.dispatch_once(now + secs(4)).await.unwrap().expired, 1);
    assert_eq!(admin_message(&app, dying).await["status"], "expired");
}

#[tokio::test]
async fn the_http_strategy_without_a_request_config_or_an_unknown_one_fails_at_start() {
    let source = verity::config::ConfigSource::File(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml").into(),
    );
    for (strategy, needle) in [
        ("http", "courier.http.request_config is not set"),
        ("carrier-pigeon", "must be smtp or http"),
    ] {
        let mut settings = crate::helpers::base_settings("memory");
        settings.courier.delivery_strategy = strategy.into();
        let err = verity::startup::Application::build(settings, &source, true, true)
            .await
            .err()
            .expect("must fail");
        assert!(format!("{err:#}").contains(needle), "{err:#}");
    }
    let mut settings = crate::helpers::base_settings("memory");
    settings.courier.delivery_strategy = "http".into();
    settings.courier.http = Some(
        serde_json::from_value(
            json!({"request_config": {"url": "https://mail.example.com/", "body": b64("function(ctx) { a: ctx.nope }")}}),
        )
        .unwrap(),
    );
    let err = verity::startup::Application::build(settings, &source, true, true)
        .await
        .err()
        .expect("a broken body fails at start");
    assert!(
        format!("{err:#}").contains("courier.http.request_config"),
        "{err:#}"
    );
}
