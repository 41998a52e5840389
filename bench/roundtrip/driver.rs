//! The closed-loop driver: C clients, each doing round trips back to back (create an api
//! verification flow, send a code, wait for it in the SMTP sink, submit it) for a while.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sink::Sink;

/// One finished round trip: when it ended, and each step's time.
#[derive(Clone, Copy)]
pub struct Sample {
    pub ended: Instant,
    pub create: Duration,
    pub send: Duration,
    /// From the send's answer to the message's arrival in the sink (zero if it came first).
    pub inbox: Duration,
    pub submit: Duration,
}

#[derive(Clone)]
pub struct Target {
    pub http: reqwest::Client,
    pub public: String,
    pub sink: Sink,
    pub addresses: usize,
    next: Arc<AtomicUsize>,
}

pub fn address(i: usize) -> String {
    format!("rt{i}@example.com")
}

impl Target {
    pub fn new(public: String, sink: Sink, addresses: usize) -> Target {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .expect("an HTTP client");
        Target {
            http,
            public,
            sink,
            addresses,
            next: Arc::default(),
        }
    }

    /// The next address, round robin: far more addresses than clients, so no two round trips
    /// in flight share one.
    fn next_address(&self) -> String {
        address(self.next.fetch_add(1, Ordering::Relaxed) % self.addresses)
    }

    pub async fn round_trip(&self) -> Result<Sample, String> {
        let email = self.next_address();
        let t0 = Instant::now();
        let flow: Value = self
            .http
            .get(format!("{}/self-service/verification/api", self.public))
            .send()
            .await
            .map_err(|e| format!("create: {e}"))?
            .json()
            .await
            .map_err(|e| format!("create: {e}"))?;
        let id = flow["id"].as_str().ok_or("create: no flow id")?.to_owned();
        let url = format!("{}/self-service/verification?flow={id}", self.public);
        let t1 = Instant::now();
        let inbox = self.sink.expect(&email);
        let r = self
            .http
            .post(&url)
            .header("accept", "application/json")
            .json(&json!({"method": "code", "email": email}))
            .send()
            .await
            .map_err(|e| format!("send: {e}"))?;
        if r.status() != 200 {
            return Err(format!("send: {}", r.status()));
        }
        let _ = r.bytes().await;
        let t2 = Instant::now();
        let arrival = tokio::time::timeout(Duration::from_secs(10), inbox)
            .await
            .map_err(|_| format!("no message for {email} within 10 s"))?
            .map_err(|_| "sink gone".to_owned())?;
        let t3 = Instant::now();
        let r: Value = self
            .http
            .post(&url)
            .header("accept", "application/json")
            .json(&json!({"method": "code", "code": arrival.code}))
            .send()
            .await
            .map_err(|e| format!("submit: {e}"))?
            .json()
            .await
            .map_err(|e| format!("submit: {e}"))?;
        if r["state"] != "passed_challenge" {
            return Err(format!("submit: {r}"));
        }
        let t4 = Instant::now();
        Ok(Sample {
            ended: t4,
            create: t1 - t0,
            send: t2 - t1,
            inbox: arrival.at.saturating_duration_since(t2),
            submit: t4 - t3,
        })
    }
}

/// Runs `clients` closed loops until `until`; returns every sample and the errors.
pub async fn closed_loop(t: &Target, clients: usize, until: Instant) -> (Vec<Sample>, Vec<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let t = t.clone();
        tasks.spawn(async move {
            let (mut ok, mut err) = (Vec::new(), Vec::new());
            while Instant::now() < until {
                match t.round_trip().await {
                    Ok(s) => ok.push(s),
                    Err(e) => err.push(e),
                }
            }
            (ok, err)
        });
    }
    let (mut ok, mut err) = (Vec::new(), Vec::new());
    while let Some(r) = tasks.join_next().await {
        let (o, e) = r.expect("a client task");
        ok.extend(o);
        err.extend(e);
    }
    (ok, err)
}

/// Creates the identities whose addresses the round trips verify, 32 at a time.
pub async fn create_identities(
    http: &reqwest::Client,
    admin: &str,
    n: usize,
) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let results: Vec<Result<(), String>> = futures_util::stream::iter(0..n)
        .map(|i| async move {
            let body = json!({"schema_id": "default", "traits": {"email": address(i)}});
            let r = http
                .post(format!("{admin}/admin/identities"))
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match r.status().as_u16() {
                201 => Ok(()),
                s => Err(format!("creating identity {i}: {s}")),
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results
        .into_iter()
        .collect::<Result<(), String>>()
        .map_err(anyhow::Error::msg)
}
