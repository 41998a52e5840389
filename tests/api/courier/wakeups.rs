//! No polling delay: a queued message wakes its courier at once (in-process after the commit;
//! across processes through Postgres LISTEN/NOTIFY) while `pull_wait` is long, and a pooled
//! SMTP connection the server dropped while idle costs no failed attempt.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use verity::config::GoDuration;
use verity::courier::{Channel, Worker};
use verity::persistence::Store;

use super::{app_with_sink, courier_settings, enqueue, worker};
use crate::helpers::{spawn_postgres_with, spawn_with};
use crate::support_smtp::SmtpSink;

/// Long enough that a message arriving within a second was not found by a poll.
const LONG_POLL: GoDuration = GoDuration::from_secs(30);

#[tokio::test]
async fn a_code_sent_through_the_api_reaches_the_inbox_without_waiting_for_a_poll() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(|s| {
        s.courier.smtp.connection_uri = Some(verity::config::Sensitive::new(sink.uri()));
        s.courier.worker.pull_wait = LONG_POLL;
    })
    .await;
    app.create_identity(&json!({"schema_id": "default", "traits": {"email": "wake@example.com"}}))
        .await;
    // Let the worker make its first (empty) round and go to sleep.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flow: Value = app
        .http
        .get(format!("{}/self-service/verification/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent_at = Instant::now();
    let resp = app
        .http
        .post(format!(
            "{}/self-service/verification?flow={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .header("accept", "application/json")
        .json(&json!({"method": "code", "email": "wake@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await, 1);
    let took = sink.accepted_at()[0].saturating_duration_since(sent_at);
    assert!(
        took < Duration::from_secs(1),
        "the code took {took:?} to reach the inbox"
    );
}

#[tokio::test]
async fn messages_queued_one_after_another_each_wake_the_worker() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(|s| {
        s.courier.smtp.connection_uri = Some(verity::config::Sensitive::new(sink.uri()));
        s.courier.worker.pull_wait = LONG_POLL;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..5 {
        let queued_at = Instant::now();
        enqueue(
            &app,
            Channel::Email,
            &format!("w{i}@example.com"),
            "1",
            None,
            Utc::now(),
        )
        .await;
        assert_eq!(sink.wait_for(i + 1, Duration::from_secs(5)).await, i + 1);
        let took = sink.accepted_at()[i].saturating_duration_since(queued_at);
        assert!(took < Duration::from_secs(1), "message {i} took {took:?}");
    }
}

/// Two processes' worth of pools: one queues and runs no courier, the other only sends.
#[tokio::test]
async fn on_postgres_a_courier_elsewhere_is_woken_by_notify() {
    let sink = SmtpSink::start().await;
    let Some(app) = spawn_postgres_with(|s| courier_settings(s, Some(sink.uri()))).await else {
        return;
    };
    let dsn = app.registry.settings.dsn().expose().to_owned();
    let other = Store::connect_lazy(&dsn).unwrap();
    let mut settings = (*app.registry.settings).clone();
    settings.courier.worker.pull_wait = LONG_POLL;
    let courier = verity::courier::Courier::from_settings(&settings, false).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Worker::new(courier, other.clone()).run(stopped));
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let queued_at = Instant::now();
        enqueue(
            &app,
            Channel::Email,
            &format!("n{i}@example.com"),
            "1",
            None,
            Utc::now(),
        )
        .await;
        assert_eq!(sink.wait_for(i + 1, Duration::from_secs(5)).await, i + 1);
        let took = sink.accepted_at()[i].saturating_duration_since(queued_at);
        assert!(took < Duration::from_secs(1), "message {i} took {took:?}");
    }
    let _ = stop.send(true);
    task.await.unwrap();
    other.close().await;
}

#[tokio::test]
async fn a_pooled_connection_dropped_by_the_server_while_idle_costs_no_retry() {
    let (app, sink) = app_with_sink().await;
    sink.drop_idle_after(Duration::from_millis(200));
    let w = worker(&app);
    let now = Utc::now();
    enqueue(&app, Channel::Email, "a@example.com", "1", None, now).await;
    assert_eq!(w.dispatch_once(now).await.unwrap().sent, 1);
    // The server closes the pooled connection (421 idle timeout) while nothing is sent.
    tokio::time::sleep(Duration::from_millis(600)).await;
    enqueue(&app, Channel::Email, "b@example.com", "2", None, now).await;
    let r = w.dispatch_once(now).await.unwrap();
    assert_eq!(
        (r.sent, r.retried),
        (1, 0),
        "sent on the first attempt over a new connection"
    );
    assert_eq!(sink.mails().len(), 2);
    assert_eq!(sink.connections(), 2, "the dropped connection was replaced");
}
