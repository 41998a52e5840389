//! Email reaches a real SMTP server in Kratos's shape; texts are sealed at rest.

use std::time::Duration;

use chrono::Utc;
use verity::courier::{Channel, MessageStatus};

use super::{admin_message, app_with_sink, enqueue, secs, worker};
use crate::helpers::spawn_with;
use crate::support_smtp::SmtpSink;

#[tokio::test]
async fn email_reaches_the_smtp_server_as_multipart_with_a_stable_message_id() {
    let (app, sink) = app_with_sink().await;
    let now = Utc::now();
    let id = enqueue(
        &app,
        Channel::Email,
        "alice@example.com",
        "493817",
        Some(now + secs(600)),
        now,
    )
    .await;

    let report = worker(&app).dispatch_once(now).await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1));

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "FROM:<no-reply@verity.local>");
    assert_eq!(mail.to, vec!["TO:<alice@example.com>".to_owned()]);
    assert_eq!(mail.header("Subject").unwrap(), "Your verification code");
    assert_eq!(
        mail.header("From").unwrap(),
        "Verity <no-reply@verity.local>"
    );
    assert_eq!(
        mail.header("Message-ID").unwrap(),
        format!("<{id}@verity.local>")
    );
    assert_eq!(
        mail.header("X-Courier-Test").unwrap(),
        "yes",
        "configured headers are sent"
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    assert!(mail.data.contains("493817"));

    let m = admin_message(&app, id).await;
    assert_eq!(m["status"], "sent");
    assert_eq!(m["send_count"], 1);
    assert_eq!(m["dispatches"].as_array().unwrap().len(), 1);
    assert_eq!(m["dispatches"][0]["status"], "success");
    assert!(
        worker(&app)
            .dispatch_once(now + secs(3600))
            .await
            .unwrap()
            .claimed
            == 0,
        "sent once"
    );
}

#[tokio::test]
async fn no_plaintext_code_is_stored() {
    let (app, _sink) = app_with_sink().await;
    let now = Utc::now();
    enqueue(&app, Channel::Email, "bob@example.com", "770215", None, now).await;
    enqueue(&app, Channel::Sms, "+4915112345678", "770215", None, now).await;
    let verity::persistence::Store::Sqlite(pool) = app.store() else {
        unreachable!()
    };
    type Sealed = (Vec<u8>, Vec<u8>, Option<Vec<u8>>, Vec<u8>);
    let rows: Vec<Sealed> =
        sqlx::query_as("SELECT subject, body, html_body, template_data FROM courier_messages")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    for (subject, body, html, data) in rows {
        for field in [subject, body, html.unwrap_or_default(), data] {
            assert!(
                !field.windows(6).any(|w| w == b"770215"),
                "a code is stored in plain text"
            );
        }
    }
}

#[tokio::test]
async fn the_worker_inside_serve_delivers_by_default() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(|s| {
        s.courier.smtp.connection_uri = Some(verity::config::Sensitive::new(sink.uri()));
        s.courier.worker.pull_wait = verity::config::GoDuration::from_millis(50);
    })
    .await;
    let now = Utc::now();
    let id = enqueue(
        &app,
        Channel::Email,
        "carol@example.com",
        "118822",
        None,
        now,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.mails().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the in-server worker did not send the message"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let (m, _) = app.store().get_message(id).await.unwrap().unwrap();
        if m.status == MessageStatus::Sent {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the message was not marked sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_missing_template_variable_fails_at_start() {
    let mut settings = crate::helpers::base_settings("memory");
    settings.courier.templates.insert(
        "verification_code".into(),
        serde_json::from_value(
            serde_json::json!({"valid": {"email": {"subject": "Code {{verification_cod}}"}}}),
        )
        .unwrap(),
    );
    let source = verity::config::ConfigSource::File(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml").into(),
    );
    let err = verity::startup::Application::build(settings, &source, true, true)
        .await
        .err()
        .expect("must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("verification_code/valid/email.subject"),
        "{text}"
    );
}

#[tokio::test]
async fn header_injection_in_config_is_refused_at_start() {
    let mut settings = crate::helpers::base_settings("memory");
    settings.courier.smtp.connection_uri =
        Some(verity::config::Sensitive::new(SmtpSink::uri_for(2525)));
    settings.courier.smtp.from_name = Some("Verity\r\nBcc: everyone@example.com".into());
    let source = verity::config::ConfigSource::File(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml").into(),
    );
    let err = verity::startup::Application::build(settings, &source, true, true)
        .await
        .err()
        .expect("must fail");
    assert!(format!("{err:#}").contains("header injection"), "{err:#}");
}
