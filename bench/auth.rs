//! Load driver for password sign-up, login and whoami, set against argon2's own speed.
//!
//!   cargo bench --bench auth -- [--db sqlite|postgres] [--n N] [--concurrency C]
//!
//! Starts Verity in-process (dev mode, rate limits off: all load comes from one IP) and
//! measures, C at a time: (a) argon2 hashes run directly through `PasswordHasher`, (b) api
//! registrations (each hashes and sends a verification code) and api logins of identities
//! created verified through the admin API, so the configured `require_verified_address`
//! hook lets them in; both as a ratio to (a). (c) whoami latency, alone and while C
//! registrations run. C defaults to the hasher's slot count; past it, requests that wait
//! too long for a slot are shed and counted as such.
//! Postgres uses BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh schema).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use verity::config::ConfigSource;
use verity::hash::PasswordHasher;
use verity::startup::Application;

#[path = "support.rs"]
mod support;
use support::{cleanup, percentile, settings};

const PASSWORD: &str = "correct horse battery staple";

struct Args {
    db: String,
    n: usize,
    concurrency: usize,
}

fn args() -> Args {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut a = Args {
        db: "sqlite".into(),
        n: 400,
        concurrency: cores * 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let num = |v: Option<String>, d: usize| v.and_then(|v| v.parse().ok()).unwrap_or(d);
        match k.as_str() {
            "--db" => a.db = it.next().unwrap_or(a.db),
            "--n" => a.n = num(it.next(), a.n),
            "--concurrency" => a.concurrency = num(it.next(), a.concurrency).max(1),
            _ => {}
        }
    }
    a
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one batch did: latencies of the successes, failures by kind, and its wall time.
struct Run {
    lat: Vec<Duration>,
    failed: BTreeMap<String, usize>,
    wall: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64()
    }

    fn row(&mut self, name: &str, base: Option<f64>) {
        self.lat.sort();
        let ratio = base.map_or("-".to_owned(), |b| format!("{:.2}", self.rate() / b));
        let failed = if self.failed.is_empty() {
            "-".to_owned()
        } else {
            let parts: Vec<String> = self
                .failed
                .iter()
                .map(|(k, v)| format!("{k}x{v}"))
                .collect();
            parts.join(",")
        };
        println!(
            "{name:<28} {:>6} {:>9.1} {:>9.2} {:>9.2} {:>7} {failed}",
            self.lat.len(),
            self.rate(),
            ms(percentile(&self.lat, 0.5)),
            ms(percentile(&self.lat, 0.99)),
            ratio,
        );
    }
}

async fn run_all<F, Fut>(n: usize, concurrency: usize, f: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    let mut run = Run {
        lat: Vec::with_capacity(n),
        failed: BTreeMap::new(),
        wall: Duration::ZERO,
    };
    let mut pending = FuturesUnordered::new();
    let mut next = 0;
    while next < n || !pending.is_empty() {
        while next < n && pending.len() < concurrency {
            let fut = f(next);
            pending.push(async move {
                let t = Instant::now();
                (fut.await, t.elapsed())
            });
            next += 1;
        }
        match pending.next().await {
            Some((Ok(()), d)) => run.lat.push(d),
            Some((Err(e), _)) => *run.failed.entry(e).or_default() += 1,
            None => {}
        }
    }
    run.wall = start.elapsed();
    run
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    public: String,
}

impl Client {
    /// Starts an api flow (`registration`, `login`) and submits `body`; the reply on 200.
    async fn flow(&self, flow: &str, body: Value) -> Result<Value, String> {
        let r = self
            .http
            .get(format!("{}/self-service/{flow}/api", self.public))
            .send()
            .await
            .map_err(|_| "init-io".to_owned())?;
        if r.status() != 200 {
            return Err(format!("init-{}", r.status().as_u16()));
        }
        let init: Value = r.json().await.map_err(|_| "init-json".to_owned())?;
        let id = init["id"].as_str().ok_or("init-no-id")?;
        let r = self
            .http
            .post(format!("{}/self-service/{flow}?flow={id}", self.public))
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|_| "submit-io".to_owned())?;
        if r.status() != 200 {
            return Err(r.status().as_u16().to_string());
        }
        r.json().await.map_err(|_| "submit-json".to_owned())
    }

    async fn register(&self, email: String) -> Result<(), String> {
        let body = json!({"method": "password", "password": PASSWORD, "traits": {"email": email}});
        let v = self.flow("registration", body).await?;
        v["identity"]["id"]
            .as_str()
            .map(|_| ())
            .ok_or("no-identity".into())
    }

    async fn login(&self, email: String) -> Result<String, String> {
        let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
        let v = self.flow("login", body).await?;
        v["session_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or("no-token".into())
    }

    async fn whoami(&self, token: &str) -> Result<(), String> {
        let r = self
            .http
            .get(format!("{}/sessions/whoami", self.public))
            .header("X-Session-Token", token)
            .send()
            .await
            .map_err(|_| "io".to_owned())?;
        match r.status().as_u16() {
            200 => r.bytes().await.map(|_| ()).map_err(|_| "body".into()),
            s => Err(s.to_string()),
        }
    }
}

/// Sequential whoami calls until `stop` is set (or `max` calls); the latencies.
async fn whoami_loop(c: Client, token: String, stop: Arc<AtomicBool>, max: usize) -> Run {
    let start = Instant::now();
    let mut run = Run {
        lat: Vec::new(),
        failed: BTreeMap::new(),
        wall: Duration::ZERO,
    };
    while !stop.load(Ordering::Relaxed) && run.lat.len() < max {
        let t = Instant::now();
        match c.whoami(&token).await {
            Ok(()) => run.lat.push(t.elapsed()),
            Err(e) => *run.failed.entry(e).or_default() += 1,
        }
    }
    run.wall = start.elapsed();
    run
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    verity::install_crypto_provider();
    let a = args();
    let (settings, scratch) = settings(&a.db).await?;
    let hasher = PasswordHasher::new(&settings.hashers.argon2)?;
    let argon = settings.hashers.argon2.clone();
    let app = Application::build(settings, &ConfigSource::Bundled, true, true).await?;
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency + 1)
        .build()?;
    let c = Client {
        http: http.clone(),
        public,
    };
    println!(
        "verity auth bench: db={} n={} concurrency={} argon2 m={}KiB t={} p={}",
        a.db,
        a.n,
        a.concurrency,
        argon.memory.as_kib(),
        argon.iterations,
        argon.parallelism
    );
    println!(
        "{:<28} {:>6} {:>9} {:>9} {:>9} {:>7} failed",
        "", "ok", "ops/s", "p50 ms", "p99 ms", "x hash"
    );

    // (a) argon2 alone, through the same hasher type (blocking pool + semaphore).
    let mut hash = run_all(a.n, a.concurrency, |_| {
        let h = hasher.clone();
        async move {
            h.hash(PASSWORD.to_owned())
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        }
    })
    .await;
    hash.row("argon2 hash (direct)", None);
    let base = hash.rate();

    // (b) registrations: unique addresses, each queues a verification code.
    let mut reg = run_all(a.n, a.concurrency, |i| {
        let c = c.clone();
        async move { c.register(format!("reg{i}@example.com")).await }
    })
    .await;
    reg.row("registration (api)", Some(base));

    // Login identities: created verified through the admin API with one precomputed hash
    // (not timed), so the login's argon2 verify is the only hash per login.
    let phc = hasher.hash(PASSWORD.to_owned()).await?;
    let phc = Arc::new(phc);
    let setup = run_all(a.n + 1, a.concurrency, |i| {
        let (http, admin, phc) = (http.clone(), admin.clone(), phc.clone());
        async move {
            let email = format!("login{i}@example.com");
            let body = json!({
                "schema_id": "default",
                "traits": {"email": email},
                "credentials": {"password": {"config": {"hashed_password": *phc}}},
                "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
            });
            let r = http
                .post(format!("{admin}/admin/identities"))
                .json(&body)
                .send()
                .await
                .map_err(|_| "io".to_owned())?;
            if r.status() == 201 {
                Ok(())
            } else {
                Err(format!("{} {}", r.status(), r.text().await.unwrap_or_default()))
            }
        }
    })
    .await;
    if !setup.failed.is_empty() {
        anyhow::bail!("creating login identities failed: {:?}", setup.failed);
    }
    let mut login = run_all(a.n, a.concurrency, |i| {
        let c = c.clone();
        async move { c.login(format!("login{i}@example.com")).await.map(|_| ()) }
    })
    .await;
    login.row("login (api, verified)", Some(base));

    // (c) whoami alone, then while C registrations run.
    let token = c
        .login(format!("login{}@example.com", a.n))
        .await
        .map_err(|e| anyhow::anyhow!("login for whoami: {e}"))?;
    let idle = Arc::new(AtomicBool::new(false));
    let mut alone = whoami_loop(c.clone(), token.clone(), idle, a.n.max(200)).await;
    alone.row("whoami (idle)", None);
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = tokio::spawn(whoami_loop(c.clone(), token, stop.clone(), usize::MAX));
    let mut storm = run_all(a.n, a.concurrency, |i| {
        let c = c.clone();
        async move { c.register(format!("storm{i}@example.com")).await }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut during = hammer.await?;
    storm.row("registration (storm)", Some(base));
    during.row("whoami (during storm)", None);
    cleanup(scratch).await
}
