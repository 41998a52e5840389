//! Leases under load and faults, with the real worker loop (`Worker::run`): a provider slower
//! than lease ÷ batch, a database outage while a message is on the wire, and a worker killed
//! mid-send. Each message must arrive once (a crash mid-send may repeat that one message). And
//! a lane is not held by the recording of its last attempt.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use verity::config::GoDuration;
use verity::courier::{Channel, Worker};

use super::{admin_message, compose, courier_settings, worker};
use crate::helpers::{TestApp, postgres_url, spawn_with};
use crate::support_smtp::SmtpSink;

/// Queues `n` verification emails; answers their ids.
async fn queue(app: &TestApp, n: usize, tag: &str) -> Vec<uuid::Uuid> {
    let now = Utc::now();
    let batch: Vec<_> = (0..n)
        .map(|i| {
            compose(
                app,
                Channel::Email,
                &format!("{tag}{i}@example.com"),
                "123456",
                Some(now + super::secs(600)),
                now,
            )
        })
        .collect();
    app.store().enqueue_messages(&batch).await.unwrap();
    batch.iter().map(|m| m.id).collect()
}

/// How often each Message-ID reached the sink.
fn arrivals(sink: &SmtpSink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in sink.mails() {
        *seen.entry(m.header("Message-ID").unwrap()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn a_provider_slower_than_lease_over_batch_gets_each_message_once() {
    let sink = SmtpSink::start().await;
    // 300 ms a message against a 2 s lease and batches of 10: 200 ms of lease per message.
    sink.set_data_delay(Duration::from_millis(300));
    let app = spawn_with(|s| {
        courier_settings(s, Some(sink.uri()));
        s.courier.worker.lease = GoDuration::from_secs(2);
        s.courier.worker.pull_count = 10;
        s.courier.worker.concurrency = 2;
        s.courier.worker.pull_wait = GoDuration::from_millis(100);
    })
    .await;
    let ids = queue(&app, 12, "slow").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker(&app).run(stopped));
    assert_eq!(sink.wait_for(12, Duration::from_secs(30)).await, 12);
    // Longer than a lease, so a message claimed twice would have gone out again by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    let seen = arrivals(&sink);
    assert_eq!(seen.len(), 12, "every message arrived");
    assert!(
        seen.values().all(|&n| n == 1),
        "no message was sent twice: {seen:?}"
    );
    for id in ids {
        let m = admin_message(&app, id).await;
        assert_eq!(m["status"], "sent");
        assert_eq!(m["dispatches"].as_array().unwrap().len(), 1, "{m}");
    }
}

#[tokio::test]
async fn a_killed_workers_messages_are_delivered_within_seconds() {
    let sink = SmtpSink::start().await;
    sink.set_data_delay(Duration::from_secs(2));
    // The default lease: what a user waits for after a node dies.
    let app = spawn_with(|s| courier_settings(s, Some(sink.uri()))).await;
    let ids = queue(&app, 4, "killed").await;
    let (_never, running) = tokio::sync::watch::channel(false);
    let doomed = tokio::spawn(worker(&app).run(running));
    // Wait until the worker is mid-send (the sink holds the data), then kill it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.commands() < 4 {
        assert!(
            Instant::now() < deadline,
            "the worker never started sending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.abort();
    let _ = doomed.await;
    sink.set_data_delay(Duration::ZERO);

    let killed_at = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let rescuer = Worker::new(app.registry.courier.clone(), app.store().clone());
    let task = tokio::spawn(rescuer.run(stopped));
    let mut all_sent = false;
    while killed_at.elapsed() < Duration::from_secs(15) {
        let mut sent = 0;
        for id in &ids {
            if admin_message(&app, *id).await["status"] == "sent" {
                sent += 1;
            }
        }
        if sent == ids.len() {
            all_sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = killed_at.elapsed();
    let _ = stop.send(true);
    task.await.unwrap();
    assert!(all_sent, "the killed worker's messages were not delivered");
    let lease = app.registry.courier.worker_config().lease.std();
    assert!(
        took <= lease + Duration::from_secs(3),
        "delivered {took:?} after the kill; the lease is {lease:?}"
    );
    assert_eq!(arrivals(&sink).len(), 4, "every message arrived");
    // The messages that were on the wire at the kill show their unrecorded attempt.
    let mut flagged = 0;
    for id in ids {
        let m = admin_message(&app, id).await;
        let d = m["dispatches"].as_array().unwrap();
        if d.len() == 2 {
            assert!(
                d[0]["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not recorded")
            );
            flagged += 1;
        }
    }
    assert!(flagged >= 1, "the attempt cut short by the kill is visible");
}

/// Postgres in a database of its own, so refusing its connections disturbs no other test.
async fn own_database() -> Option<(sqlx::PgPool, String, String)> {
    let url = postgres_url()?;
    let db = format!("courier_outage_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    let mut target = url::Url::parse(&url).unwrap();
    target.set_path(&format!("/{db}"));
    Some((admin, db, target.to_string()))
}

async fn allow_connections(admin: &sqlx::PgPool, db: &str, allow: bool) {
    let sql = format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(admin)
        .await
        .unwrap();
    if !allow {
        let kill = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
        );
        sqlx::query(sqlx::AssertSqlSafe(kill))
            .execute(admin)
            .await
            .unwrap();
    }
}

/// A real outage (Postgres refuses the database and its sessions are killed) while the
/// message is on the wire, longer than the lease: recording "sent" waits for the database.
#[tokio::test]
async fn a_database_outage_while_sending_causes_no_second_send() {
    let Some((admin, db, dsn)) = own_database().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    sink.set_data_delay(Duration::from_millis(700));
    let app = spawn_with(|s| {
        s.dsn = verity::config::Sensitive::new(dsn.clone());
        courier_settings(s, Some(sink.uri()));
        s.courier.worker.lease = GoDuration::from_secs(3);
        s.courier.worker.pull_wait = GoDuration::from_millis(100);
    })
    .await;
    let ids = queue(&app, 1, "outage").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker(&app).run(stopped));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.commands() < 4 {
        assert!(
            Instant::now() < deadline,
            "the worker never started sending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    allow_connections(&admin, &db, false).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    allow_connections(&admin, &db, true).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some((m, _))) = app.store().get_message(ids[0]).await
            && m.status == verity::courier::MessageStatus::Sent
        {
            break;
        }
        assert!(Instant::now() < deadline, "the message was not marked sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past another lease: a message left looking unsent would have gone out again by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(sink.mails().len(), 1, "sent once");
    let m = admin_message(&app, ids[0]).await;
    let d = m["dispatches"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{m}");
    assert_eq!(d[0]["status"], "success");
    drop(app);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}

/// A lane takes the next message as soon as the provider has answered: recording the attempt
/// (a commit, which waits for the disk) happens behind it. Here the first message's record
/// waits on a row lock the test holds; with one lane, the second message still goes out, and
/// the third waits: no more than twice the concurrency is sent and not recorded, which bounds
/// what a worker's death can send again.
#[tokio::test]
async fn a_lane_sends_the_next_message_while_the_last_one_is_being_recorded_but_no_further() {
    let sink = SmtpSink::start().await;
    sink.set_data_delay(Duration::from_millis(300));
    let Some(app) = crate::helpers::spawn_postgres_with(|s| {
        courier_settings(s, Some(sink.uri()));
        s.courier.worker.concurrency = 1;
        s.courier.worker.pull_count = 1;
        s.courier.worker.pull_wait = GoDuration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let verity::persistence::Store::Postgres(pool) = app.store().clone() else {
        unreachable!("a Postgres app")
    };
    let first = queue(&app, 1, "lane-a").await[0];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker(&app).run(stopped));
    // Once claimed (and on the wire for 300 ms), its row is locked until the test says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lock = loop {
        let mut tx = pool.begin_with("BEGIN").await.unwrap();
        let claimed: Option<String> = sqlx::query_scalar(
            "SELECT status FROM courier_messages WHERE id = $1 AND status = 'processing' FOR UPDATE",
        )
        .bind(first)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
        if claimed.is_some() {
            break tx;
        }
        drop(tx);
        assert!(
            Instant::now() < deadline,
            "the first message was never claimed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let later = queue(&app, 2, "lane-b").await;
    assert_eq!(
        sink.wait_for(2, Duration::from_secs(5)).await,
        2,
        "the second message went out while the first one's record waited"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sink.mails().len(),
        2,
        "a third waits while two are sent and not recorded"
    );
    sqlx::query("SELECT 1").execute(&mut *lock).await.unwrap();
    lock.commit().await.unwrap();
    assert_eq!(sink.wait_for(3, Duration::from_secs(5)).await, 3);
    for id in [first, later[0], later[1]] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while admin_message(&app, id).await["status"] != "sent" {
            assert!(Instant::now() < deadline, "{id} was not recorded sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let m = admin_message(&app, id).await;
        assert_eq!(m["dispatches"].as_array().unwrap().len(), 1, "{m}");
    }
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(sink.mails().len(), 3, "each sent once");
}
