//! On Postgres (TEST_DATABASE_URL, else a loud skip): two workers, each with its own pool as
//! two nodes would have, share one queue of 1,000 messages and send each exactly once.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use verity::courier::{Channel, Worker};
use verity::persistence::{MessageStatus, Store};

use super::{admin_message, compose, courier_settings, enqueue, worker};
use crate::helpers::spawn_postgres_with;
use crate::support_smtp::SmtpSink;

#[tokio::test]
async fn two_workers_on_one_postgres_send_each_of_1000_messages_once() {
    let sink = SmtpSink::start().await;
    let Some(app) = spawn_postgres_with(|s| {
        courier_settings(s, Some(sink.uri()));
        s.courier.worker.concurrency = 4;
        s.courier.worker.pull_wait = verity::config::GoDuration::from_millis(20);
    })
    .await
    else {
        return;
    };
    let now = Utc::now();
    let batch: Vec<_> = (0..1000)
        .map(|i| {
            compose(
                &app,
                Channel::Email,
                &format!("p{i}@example.com"),
                "123456",
                None,
                now,
            )
        })
        .collect();
    app.store().enqueue_messages(&batch).await.unwrap();

    // A second node: its own connection pool on the same database.
    let dsn = app.registry.settings.dsn().expose().to_owned();
    let other = Store::connect_lazy(&dsn).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(worker(&app).run(stopped.clone()));
    let b = tokio::spawn(Worker::new(app.registry.courier.clone(), other.clone()).run(stopped));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let counts: HashMap<_, _> = app
            .store()
            .message_status_counts()
            .await
            .unwrap()
            .into_iter()
            .collect();
        if counts.get(&MessageStatus::Sent) == Some(&1000) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all sent: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    a.await.unwrap();
    b.await.unwrap();
    other.close().await;

    let mut seen: HashMap<String, usize> = HashMap::new();
    for mail in sink.mails() {
        *seen.entry(mail.header("Message-ID").unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 1000, "every message arrived");
    assert!(seen.values().all(|&n| n == 1), "no message was sent twice");
    let page = app
        .store()
        .list_messages(&Default::default(), None, 1000)
        .await
        .unwrap();
    assert!(page.messages.iter().all(|m| m.send_count == 1));
}

#[tokio::test]
async fn leases_and_expiry_work_on_postgres() {
    let sink = SmtpSink::start().await;
    let Some(app) = spawn_postgres_with(|s| courier_settings(s, Some(sink.uri()))).await else {
        return;
    };
    let now = Utc::now();
    let id = enqueue(
        &app,
        Channel::Email,
        "pg@example.com",
        "654321",
        Some(now + super::secs(600)),
        now,
    )
    .await;
    let stale = enqueue(
        &app,
        Channel::Email,
        "old@example.com",
        "1",
        Some(now + super::secs(5)),
        now,
    )
    .await;
    let claimed = app
        .store()
        .claim_messages(now, &super::lease(now + super::secs(60)), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let w = worker(&app);
    let r = w.dispatch_once(now + super::secs(61)).await.unwrap();
    assert_eq!(r.sent, 1, "the orphaned lease returned to the queue");
    assert_eq!(r.expired, 1);
    assert_eq!(admin_message(&app, id).await["status"], "sent");
    assert_eq!(admin_message(&app, stale).await["status"], "expired");
    assert_eq!(sink.mails().len(), 1);
}
