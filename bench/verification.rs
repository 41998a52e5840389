//! Load driver for the verification hot paths: flow creation, code send and code submit.
//!
//!   cargo bench --bench verification -- [--db sqlite|postgres] [--flows N] [--concurrency C]
//!
//! Starts Verity in-process (dev mode, the courier delivering to the dev inbox), creates N
//! identities, then times N api flows created and sent a code, and N correct code submissions,
//! C at a time. Postgres uses BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh schema).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use verity::config::ConfigSource;
use verity::startup::Application;

#[path = "support.rs"]
mod support;
use support::{cleanup, percentile, settings};

struct Args {
    db: String,
    flows: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        db: "sqlite".into(),
        flows: 2000,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--db" => a.db = it.next().unwrap_or(a.db),
            "--flows" => a.flows = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.flows),
            "--concurrency" => {
                a.concurrency = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.concurrency)
            }
            _ => {}
        }
    }
    a
}

fn report(name: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    println!(
        "{name:<24} {:>6} ops  {:>8.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3
    );
}

async fn run_all<F, Fut>(n: usize, concurrency: usize, f: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    let mut lat = Vec::with_capacity(n);
    let mut pending = FuturesUnordered::new();
    let mut next = 0;
    while next < n || !pending.is_empty() {
        while next < n && pending.len() < concurrency {
            let fut = f(next);
            pending.push(async move {
                let t = Instant::now();
                fut.await;
                t.elapsed()
            });
            next += 1;
        }
        if let Some(d) = pending.next().await {
            lat.push(d);
        }
    }
    (lat, start.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    verity::install_crypto_provider();
    let a = args();
    let (settings, scratch) = settings(&a.db).await?;
    let app = Application::build(settings, &ConfigSource::Bundled, true, true).await?;
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()?;
    println!(
        "verity bench: db={} flows={} concurrency={}",
        a.db, a.flows, a.concurrency
    );

    let (_, _) = run_all(a.flows, a.concurrency, |i| {
        let (http, admin) = (http.clone(), admin.clone());
        async move {
            let body = json!({"schema_id": "default", "traits": {"email": format!("bench{i}@example.com")}});
            let r = http.post(format!("{admin}/admin/identities")).json(&body).send().await.expect("create identity");
            assert_eq!(r.status(), 201);
        }
    })
    .await;

    let flow_ids = std::sync::Arc::new(std::sync::Mutex::new(vec![String::new(); a.flows]));
    let (lat, wall) = run_all(a.flows, a.concurrency, |i| {
        let (http, public, ids) = (http.clone(), public.clone(), flow_ids.clone());
        async move {
            let flow: Value = http
                .get(format!("{public}/self-service/verification/api"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = flow["id"].as_str().unwrap().to_owned();
            let r = http
                .post(format!("{public}/self-service/verification?flow={id}"))
                .header("accept", "application/json")
                .json(&json!({"method": "code", "email": format!("bench{i}@example.com")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            ids.lock().unwrap()[i] = id;
        }
    })
    .await;
    report("create flow + send code", lat, wall);

    // The codes, from the outbox (bodies are visible in dev mode); not timed.
    let mut codes = std::collections::HashMap::new();
    let mut url = format!("{admin}/admin/courier/messages?page_size=500");
    loop {
        let r = http.get(&url).send().await?;
        let link = r
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let page: Vec<Value> = r.json().await?;
        for m in &page {
            let body = m["body"].as_str().unwrap_or("");
            if let Some(code) = body
                .split_whitespace()
                .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
            {
                codes.insert(
                    m["recipient"].as_str().unwrap_or("").to_owned(),
                    code.to_owned(),
                );
            }
        }
        match link
            .as_deref()
            .and_then(|l| l.split(',').find(|p| p.contains("rel=\"next\"")))
        {
            Some(next) => {
                url = next[next.find('<').unwrap() + 1..next.find('>').unwrap()].to_owned()
            }
            None => break,
        }
    }
    let codes = std::sync::Arc::new(codes);
    let ids: Vec<String> = flow_ids.lock().unwrap().clone();
    let ids = std::sync::Arc::new(ids);
    let (lat, wall) = run_all(a.flows, a.concurrency, |i| {
        let (http, public, ids, codes) = (http.clone(), public.clone(), ids.clone(), codes.clone());
        async move {
            let code = codes
                .get(&format!("bench{i}@example.com"))
                .expect("code in outbox");
            let r: Value = http
                .post(format!(
                    "{public}/self-service/verification?flow={}",
                    ids[i]
                ))
                .header("accept", "application/json")
                .json(&json!({"method": "code", "code": code}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(r["state"], "passed_challenge");
        }
    })
    .await;
    report("submit correct code", lat, wall);
    cleanup(scratch).await
}
