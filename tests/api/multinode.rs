//! Three `verity serve` processes on one Postgres schema behind nginx: the nodes keep no state
//! of their own. Flows, limits and the courier's queue live in the database, so a flow goes on
//! wherever its next request lands, a limit holds whichever node is asked, and couriers on
//! every node send each message once (twice only across a crash, with the same Message-ID).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::multinode_courier::deliveries;
use crate::multinode_support::{Cluster, ClusterSpec, nginx_available};
use crate::support_smtp::{Mail, SmtpSink};

use crate::helpers::pg_schema;

/// A fresh schema on `TEST_DATABASE_URL` and the DSN that selects it; dropped afterwards.
pub struct Schema {
    pub dsn: String,
    url: String,
    name: String,
}

impl Schema {
    pub async fn create() -> Option<Schema> {
        verity::install_crypto_provider();
        if !nginx_available() {
            return None;
        }
        let url = pg_schema::test_database_url()?;
        let name = pg_schema::create(&url, "mn").await;
        let sep = if url.contains('?') { '&' } else { '?' };
        let dsn = format!("{url}{sep}options=-c%20search_path%3D{name}");
        Some(Schema { dsn, url, name })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        pg_schema::drop_blocking(self.url.clone(), self.name.clone());
    }
}

/// The 6-digit line of a verification email.
pub fn code_in(mail: &Mail) -> String {
    mail.data
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in {}", mail.data))
        .to_owned()
}

pub async fn create_identity(admin: &str, email: &str) {
    let res = reqwest::Client::new()
        .post(format!("{admin}/admin/identities"))
        .json(&json!({"schema_id": "default", "traits": {"email": email}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// `POST /self-service/verification?flow=` as JSON; answers the status and body.
pub async fn submit(http: &reqwest::Client, public: &str, flow: &str, body: Value) -> (u16, Value) {
    let res = http
        .post(format!("{public}/self-service/verification?flow={flow}"))
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub async fn api_flow(http: &reqwest::Client, public: &str) -> String {
    let flow: Value = http
        .get(format!("{public}/self-service/verification/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    flow["id"].as_str().expect("a flow id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_node_continues_on_another() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: schema.dsn.clone(),
        smtp_uri: Some(sink.uri()),
        extra: &[],
    })
    .await;
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    create_identity(&a.admin(), "across@example.com").await;

    // An api flow: created on A, the code sent by B, the code used on C.
    let http = reqwest::Client::new();
    let flow = api_flow(&http, &a.public()).await;
    let (status, sent) = submit(
        &http,
        &b.public(),
        &flow,
        json!({"method": "code", "email": "across@example.com"}),
    )
    .await;
    assert_eq!(
        (status, sent["state"].as_str()),
        (200, Some("sent_email")),
        "{sent}"
    );
    assert_eq!(
        sink.wait_for(1, Duration::from_secs(20)).await,
        1,
        "{}",
        cluster.logs()
    );
    let code = code_in(&sink.mails()[0]);
    let (status, done) = submit(
        &http,
        &c.public(),
        &flow,
        json!({"method": "code", "code": code}),
    )
    .await;
    assert_eq!(
        (status, done["state"].as_str()),
        (200, Some("passed_challenge")),
        "{done}"
    );

    // A browser flow: its CSRF cookie, named from the shared base URL, is valid on every node.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let flow: Value = browser
        .get(format!("{}/self-service/verification/browser", c.public()))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == "csrf_token")
        .and_then(|n| n["attributes"]["value"].as_str())
        .expect("a csrf_token node")
        .to_owned();
    let id = flow["id"].as_str().unwrap();
    let (status, sent) = submit(
        &browser,
        &a.public(),
        id,
        json!({"method": "code", "email": "across@example.com", "csrf_token": csrf}),
    )
    .await;
    assert_eq!(
        (status, sent["state"].as_str()),
        (200, Some("sent_email")),
        "{sent}"
    );
    // And through the balancer, wherever it sends each request.
    let read = browser
        .get(format!(
            "{}/self-service/verification/flows?id={id}",
            cluster.nginx.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_failure_limits_hold_whichever_node_is_asked() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: schema.dsn.clone(),
        smtp_uri: Some(sink.uri()),
        extra: &[
            (
                "SELFSERVICE_RATE_LIMITS_VERIFICATION_SENDS_PER_ADDRESS_10M",
                "3",
            ),
            ("SELFSERVICE_RATE_LIMITS_CODE_FAILURES_PER_ADDRESS_DAY", "2"),
        ],
    })
    .await;
    let nodes = &cluster.nodes;
    let http = reqwest::Client::new();
    let email = "limits@example.com";
    create_identity(&nodes[0].admin(), email).await;
    // Three sends, one per node, are allowed; the fourth is refused on every node.
    let mut flows = Vec::new();
    for node in nodes {
        let flow = api_flow(&http, &node.public()).await;
        let (status, body) = submit(
            &http,
            &node.public(),
            &flow,
            json!({"method": "code", "email": email}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        flows.push(flow);
    }
    for node in nodes {
        let flow = api_flow(&http, &node.public()).await;
        let (status, body) = submit(
            &http,
            &node.public(),
            &flow,
            json!({"method": "code", "email": email}),
        )
        .await;
        assert_eq!(status, 429, "node {}: {body}", node.public_port);
    }
    // Two wrong codes, on two nodes, use the address's budget; the next is refused everywhere.
    for (node, flow) in nodes.iter().zip(&flows).take(2) {
        let (status, body) = submit(
            &http,
            &node.public(),
            flow,
            json!({"method": "code", "code": "000000"}),
        )
        .await;
        assert_eq!(status, 200, "a wrong code is a form error: {body}");
    }
    for node in nodes {
        let (status, body) = submit(
            &http,
            &node.public(),
            &flows[2],
            json!({"method": "code", "code": "000000"}),
        )
        .await;
        assert_eq!(status, 429, "node {}: {body}", node.public_port);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_no_message_and_answers_no_5xx() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let mut cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: schema.dsn.clone(),
        smtp_uri: Some(sink.uri()),
        extra: &[("SELFSERVICE_RATE_LIMITS_ENABLED", "false")],
    })
    .await;
    let users = 40;
    for i in 0..users {
        create_identity(&cluster.nodes[0].admin(), &format!("load{i}@example.com")).await;
    }
    let load = crate::multinode_load::Load::start(cluster.nginx.url(), users, 6);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut stops = Vec::new();
    for i in 0..cluster.nodes.len() {
        stops.push(cluster.nodes[i].terminate().await);
        cluster.nodes[i].restart().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let restart_took = started.elapsed();
    if std::env::var("MULTINODE_LOGS").is_ok() {
        std::fs::write("/tmp/multinode.log", cluster.logs()).unwrap();
    }
    let tally = load.stop().await;
    let arrived = sink.wait_for(tally.sent, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_recipient = deliveries(&sink);
    let mails: usize = per_recipient.values().map(Vec::len).sum();
    println!(
        "multinode rolling restart: {} sends in {:.1} s across 3 restarts ({:.1} s; graceful stops took {stops:?}), statuses {:?}, {} messages arrived",
        tally.sent,
        tally.elapsed.as_secs_f64(),
        restart_took.as_secs_f64(),
        tally.statuses,
        mails
    );
    assert!(tally.sent > 100, "the load ran: {tally:?}");
    let unexpected: Vec<_> = tally
        .statuses
        .keys()
        .filter(|s| !matches!(**s, 200 | 503))
        .collect();
    assert!(
        unexpected.is_empty(),
        "answers other than 200 and 503: {tally:?}\n{}",
        cluster.logs()
    );
    assert_eq!(arrived, tally.sent, "every queued code arrived");
    assert_eq!(mails, tally.sent, "and none twice");
    let mismatched: Vec<_> = tally
        .per_recipient
        .iter()
        .map(|(to, sent)| (to, *sent, per_recipient.get(to).map_or(0, Vec::len)))
        .filter(|(_, sent, got)| sent != got)
        .collect();
    assert!(
        mismatched.is_empty(),
        "(recipient, sent, arrived): {mismatched:?}"
    );
}
