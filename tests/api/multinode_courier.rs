//! Couriers on every node of a three-node cluster share one queue: each message arrives once,
//! with a provider slower than lease ÷ batch, and through a SIGKILL mid-send (then a message on
//! the wire may arrive twice, with the same Message-ID).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::multinode::Schema;
use crate::multinode_support::{Cluster, ClusterSpec, queue_emails};
use crate::support_smtp::SmtpSink;

/// How often each recipient's message arrived, and under which Message-IDs.
pub fn deliveries(sink: &SmtpSink) -> HashMap<String, Vec<String>> {
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for m in sink.mails() {
        // `RCPT TO:<a@b>` keeps its argument; the address is between the brackets.
        let to: Vec<_> =
            m.to.iter()
                .map(|t| t.split(['<', '>']).nth(1).unwrap_or(t))
                .collect();
        seen.entry(to.join(","))
            .or_default()
            .push(m.header("Message-ID").unwrap_or_default());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_arrive_once_while_a_node_is_killed_mid_send() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    // 15 ms a message: about 2 s of sending on 3 nodes x 4 senders, so the kill lands mid-send.
    sink.set_data_delay(Duration::from_millis(15));
    let mut cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: schema.dsn.clone(),
        smtp_uri: Some(sink.uri()),
        extra: &[
            ("COURIER_WORKER_LEASE", "3s"),
            ("COURIER_WORKER_CONCURRENCY", "4"),
        ],
    })
    .await;
    let total = 1000;
    queue_emails(&schema.dsn, total, "once").await;
    let started = Instant::now();
    assert!(sink.wait_for(150, Duration::from_secs(60)).await >= 150);
    cluster.nodes[1].kill9();
    let killed_at = sink.mails().len();
    cluster.nodes[1].restart().await;
    let delivered = loop {
        let d = deliveries(&sink);
        if d.len() >= total || started.elapsed() > Duration::from_secs(90) {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    assert_eq!(
        delivered.len(),
        total,
        "every message arrived; {}",
        cluster.logs()
    );
    let twice: Vec<_> = delivered.iter().filter(|(_, ids)| ids.len() > 1).collect();
    for (to, ids) in &twice {
        assert!(
            ids.iter().all(|i| i == &ids[0]),
            "{to}: a repeat keeps its Message-ID: {ids:?}"
        );
        assert_eq!(ids.len(), 2, "{to} arrived {} times", ids.len());
    }
    // Only what the killed node had claimed and not recorded may arrive twice: at most twice
    // its concurrency (4 on the wire, 4 answered and waiting for the recorder).
    assert!(twice.len() <= 8, "{} messages arrived twice", twice.len());
    println!(
        "multinode courier: {total} messages, 3 nodes, node killed after {killed_at} arrivals; \
         all in {:.1} s, {} sent twice across the crash",
        elapsed.as_secs_f64(),
        twice.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_slower_than_lease_over_batch_gets_each_message_once_on_three_nodes() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    // 300 ms a message against a 2 s lease and batches of 10 (issue: a lane leased ten for
    // 60 s and the last ones were claimed again by another lane mid-batch).
    sink.set_data_delay(Duration::from_millis(300));
    let _cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: schema.dsn.clone(),
        smtp_uri: Some(sink.uri()),
        extra: &[
            ("COURIER_WORKER_LEASE", "2s"),
            ("COURIER_WORKER_PULL_COUNT", "10"),
            ("COURIER_WORKER_CONCURRENCY", "2"),
        ],
    })
    .await;
    let total = 60;
    queue_emails(&schema.dsn, total, "slow").await;
    let started = Instant::now();
    assert_eq!(sink.wait_for(total, Duration::from_secs(60)).await, total);
    // Long enough for any lease that lapsed mid-send to be claimed and sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let twice: Vec<_> = deliveries(&sink)
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    println!(
        "multinode slow provider: {total} messages at 300 ms each on 3 nodes in {:.1} s, {} twice",
        started.elapsed().as_secs_f64(),
        twice.len()
    );
    assert!(twice.is_empty(), "sent twice without a crash: {twice:?}");
}
