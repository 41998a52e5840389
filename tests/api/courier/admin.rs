//! The admin messages API (Kratos shapes, filters, pagination, redaction) and the dev inbox.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use verity::courier::Channel;

use super::{admin_message, app_with_sink, courier_settings, enqueue, secs, worker};
use crate::helpers::{TempDir, base_settings, json_with_status, spawn_app};

#[tokio::test]
async fn messages_are_listed_filtered_and_paginated_like_kratos() {
    let (app, _sink) = app_with_sink().await;
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            enqueue(
                &app,
                Channel::Email,
                &format!("u{i}@example.com"),
                "100200",
                None,
                now,
            )
            .await,
        );
    }
    enqueue(&app, Channel::Sms, "+4915112345678", "100200", None, now).await;
    // The emails go to the SMTP sink; the SMS (no channel, --dev) to the dev inbox.
    worker(&app).dispatch_once(now).await.unwrap();
    enqueue(
        &app,
        Channel::Email,
        "later@example.com",
        "100200",
        None,
        now,
    )
    .await;

    let all = json_with_status(app.get_admin("/admin/courier/messages").await, 200).await;
    assert_eq!(all.as_array().unwrap().len(), 7);
    let first = &all[1];
    for key in [
        "id",
        "status",
        "type",
        "recipient",
        "body",
        "subject",
        "template_type",
        "channel",
        "send_count",
        "created_at",
        "updated_at",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    assert!(
        first.get("dispatches").is_none(),
        "the list has no dispatches"
    );
    assert_eq!(first["type"], "sms", "newest first");
    assert_eq!(first["template_type"], "verification_code_valid");

    let sent = json_with_status(
        app.get_admin("/admin/courier/messages?status=sent").await,
        200,
    )
    .await;
    assert_eq!(sent.as_array().unwrap().len(), 6);
    let queued = json_with_status(
        app.get_admin("/admin/courier/messages?status=queued").await,
        200,
    )
    .await;
    assert_eq!(queued.as_array().unwrap().len(), 1);
    let one = json_with_status(
        app.get_admin("/admin/courier/messages?recipient=u3@example.com")
            .await,
        200,
    )
    .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["id"], ids[3].to_string());
    assert!(
        one[0]["body"].as_str().unwrap().contains("100200"),
        "--dev shows bodies"
    );

    let bad = json_with_status(
        app.get_admin("/admin/courier/messages?status=bogus").await,
        400,
    )
    .await;
    assert_eq!(bad["error"]["reason"], "Message status is not valid");

    let resp = app.get_admin("/admin/courier/messages?page_size=2").await;
    let link = resp
        .headers()
        .get("link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let page1 = json_with_status(resp, 200).await;
    assert_eq!(page1.as_array().unwrap().len(), 2);
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .unwrap();
    let token = next
        .split("page_token=")
        .nth(1)
        .unwrap()
        .split(['&', '>'])
        .next()
        .unwrap();
    let page2 = json_with_status(
        app.get_admin(&format!(
            "/admin/courier/messages?page_size=2&page_token={token}"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(page2.as_array().unwrap().len(), 2);
    assert_ne!(page1[0]["id"], page2[0]["id"]);
    json_with_status(
        app.get_admin("/admin/courier/messages?page_token=forged")
            .await,
        400,
    )
    .await;

    let one = admin_message(&app, ids[0]).await;
    assert_eq!(one["dispatches"][0]["message_id"], ids[0].to_string());
    json_with_status(
        app.get_admin("/admin/courier/messages/not-a-uuid").await,
        400,
    )
    .await;
    json_with_status(
        app.get_admin(&format!("/admin/courier/messages/{}", uuid::Uuid::new_v4()))
            .await,
        404,
    )
    .await;
    json_with_status(app.get_admin("/courier/messages").await, 200).await;
}

#[tokio::test]
async fn bodies_are_redacted_outside_dev_mode_and_the_inbox_is_gone() {
    verity::install_crypto_provider();
    let dir = TempDir::new();
    let mut settings = base_settings(&format!(
        "sqlite://{}/verity.sqlite?mode=rwc",
        dir.0.display()
    ));
    courier_settings(
        &mut settings,
        Some("smtp://127.0.0.1:9/?disable_starttls=true".into()),
    );
    crate::helpers::production_secrets(&mut settings);
    let source = verity::config::ConfigSource::File(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml").into(),
    );
    let app = verity::startup::Application::build(settings, &source, false, true)
        .await
        .unwrap();
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    let registry = app.registry();
    let store = app.store().clone();
    tokio::spawn(app.run_until_stopped());
    let now = Utc::now();
    let m = registry
        .courier
        .compose(
            Channel::Email,
            "kim@example.com",
            verity::courier::TemplateKind::VerificationCodeValid,
            &super::code_data("909090"),
            None,
            now,
        )
        .unwrap();
    store.enqueue_message(&m).await.unwrap();
    let http = reqwest::Client::new();
    let list: Value = http
        .get(format!("{admin}/admin/courier/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["body"], "<redacted-unless-dev-mode>");
    assert_eq!(list[0]["subject"], "<redacted-unless-dev-mode>");
    assert!(!list.to_string().contains("909090"));
    let one: Value = http
        .get(format!("{admin}/admin/courier/messages/{}", m.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!one.to_string().contains("909090"));
    let inbox = http
        .get(format!("{admin}/admin/dev/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status(), 404);
}

#[tokio::test]
async fn the_dev_inbox_shows_email_and_sms_with_the_code() {
    let app = spawn_app().await; // --dev, no SMTP, no SMS channel, the worker on
    let now = Utc::now();
    let email = enqueue(
        &app,
        Channel::Email,
        "lee@example.com",
        "<b>31337</b>",
        Some(now + secs(600)),
        now,
    )
    .await;
    enqueue(
        &app,
        Channel::Sms,
        "+4915112345678",
        "424242",
        Some(now + secs(600)),
        now,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = json_with_status(app.get_admin("/admin/dev/inbox.json").await, 200).await;
        if list
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "sent")
            .count()
            == 2
        {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not deliver to the inbox: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(list[0]["type"], "sms", "newest first");
    assert_eq!(list[0]["code"], "424242");
    assert_eq!(list[1]["id"], email.to_string());
    assert_eq!(list[1]["subject"], "Your verification code");
    let filtered = json_with_status(
        app.get_admin("/admin/dev/inbox.json?recipient=lee@example.com")
            .await,
        200,
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    let negotiated = app
        .http
        .get(format!("{}/admin/dev/inbox", app.admin))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(negotiated, 200).await, list);

    let resp = app.get_admin("/admin/dev/inbox").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("424242"));
    assert!(
        html.contains("&lt;b&gt;31337&lt;/b&gt;"),
        "the page escapes what it shows"
    );
    assert!(!html.contains("<b>31337</b>"));
}
