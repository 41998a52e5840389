//! Kratos's split: `serve` without its courier queues, `verity courier watch` (the real
//! binary, its own process) sends; finished messages' texts are purged after their lifetime.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use verity::config::GoDuration;
use verity::courier::{Channel, MessageStatus, PURGED};

use super::{admin_message, courier_settings, enqueue, worker};
use crate::helpers::{TempDir, spawn_with};
use crate::support_smtp::SmtpSink;

/// The repository's config.yml pointed at `sqlite` and the sink, with fast polling and an
/// immediate purge.
fn watch_config(dir: &TempDir, sqlite: &str, sink: &SmtpSink) -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/config.yml"))
        .unwrap()
        .replace("sqlite://verity.sqlite?mode=rwc", sqlite)
        .replace(
            "file://identity-schemas/",
            &format!("file://{root}/identity-schemas/"),
        )
        .replace(
            "courier:\n  smtp:\n",
            &format!(
                "courier:\n  worker: {{pull_wait: 100ms, purge_bodies_after: 0s}}\n  smtp:\n    connection_uri: {}\n",
                sink.uri()
            ),
        );
    assert!(
        text.contains("purge_bodies_after"),
        "config.yml changed shape"
    );
    let path = dir.0.join("watch.yml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn courier_watch_sends_what_serve_without_its_courier_queued_then_purges_it() {
    let sink = SmtpSink::start().await;
    let dir = TempDir::new();
    let sqlite = format!("sqlite://{}/split.sqlite?mode=rwc", dir.0.display());
    let app = spawn_with(|s| {
        s.dsn = verity::config::Sensitive::new(sqlite.clone());
        courier_settings(s, Some(sink.uri()));
    })
    .await;
    let id = enqueue(
        &app,
        Channel::Email,
        "split@example.com",
        "424242",
        None,
        Utc::now(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails().is_empty(), "serve's courier is off");

    let config = watch_config(&dir, &sqlite, &sink);
    let mut child = Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(["courier", "watch", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let arrived = sink.wait_for(1, Duration::from_secs(20)).await;
    let mut purged = false;
    for _ in 0..100 {
        let m = admin_message(&app, id).await;
        if m["status"] == "sent" && m["body"] == PURGED {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(arrived, 1, "courier watch delivered the message");
    assert!(sink.mails()[0].data.contains("424242"));
    assert!(purged, "the sent message's texts were purged");
    let (m, _) = app.store().get_message(id).await.unwrap().unwrap();
    assert!(m.is_purged() && m.html_body.is_none());
}

#[tokio::test]
async fn only_finished_messages_past_their_lifetime_are_purged_in_batches() {
    let sink = SmtpSink::start().await;
    let app = spawn_with(|s| {
        courier_settings(s, Some(sink.uri()));
        s.courier.worker.purge_bodies_after = GoDuration::from_secs(3600);
    })
    .await;
    let now = Utc::now();
    let sent = enqueue(
        &app,
        Channel::Email,
        "p1@example.com",
        "1",
        Some(now + super::secs(600)),
        now,
    )
    .await;
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 1);
    let queued = enqueue(&app, Channel::Email, "p2@example.com", "2", None, now).await;
    let store = app.store();
    // Not before the code's expiry.
    assert_eq!(
        store
            .purge_message_bodies(now + super::secs(60), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_message_bodies(now + super::secs(601), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .purge_message_bodies(now + super::secs(9999), 10)
            .await
            .unwrap(),
        0,
        "once"
    );
    let (m, _) = store.get_message(sent).await.unwrap().unwrap();
    assert!(m.is_purged());
    assert_eq!(m.status, MessageStatus::Sent);
    assert_eq!(admin_message(&app, sent).await["subject"], PURGED);
    let (q, _) = store.get_message(queued).await.unwrap().unwrap();
    assert!(!q.is_purged(), "a message still to send keeps its texts");
    // Batches: 5 finished messages, 2 at a time.
    for i in 0..5 {
        enqueue(
            &app,
            Channel::Email,
            &format!("b{i}@example.com"),
            "3",
            None,
            now,
        )
        .await;
    }
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 6);
    let later = now + super::secs(10);
    let counts: Vec<u64> =
        futures_util::future::join_all((0..4).map(|_| store.purge_message_bodies(later, 2)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(counts.iter().sum::<u64>(), 6, "{counts:?}");
    assert!(counts.iter().all(|&n| n <= 2));
    // The dev inbox still lists purged messages, without a code.
    let inbox = app.get_admin("/admin/dev/inbox.json").await;
    assert_eq!(inbox.status(), 200);
}
