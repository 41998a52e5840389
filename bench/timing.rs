//! Timing check: does an answer take longer for an address that has an account than for one
//! that has none? (SECURITY.md C3, the enumeration oracle by the clock.)
//!
//!   cargo bench --bench timing -- [--db sqlite|postgres] [--n N]
//!
//! Starts Verity in-process (dev mode, rate limits off) with N identities, then times, one
//! request at a time and interleaved (known, unknown, unknown, known, ...) so that drift in
//! the machine's load hits both alike:
//! - verification: the send of a code to a known and to an unknown address;
//! - recovery: the same for the recovery flow (skipped when the route is not there);
//! - registration: a sign-up naming a taken address and one naming a new address;
//! - sign-in: a wrong password for a known identifier and any password for an unknown one;
//! - sign-in by code: the send of a sign-in code to a known and to an unknown identifier.
//!
//! Prints the medians, their difference, and the two-sample Kolmogorov-Smirnov statistic D
//! with its asymptotic p-value: a small D (large p) means the two distributions cannot be
//! told apart from N samples each. Postgres uses BENCH_DATABASE_URL or TEST_DATABASE_URL.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use verity::config::ConfigSource;
use verity::hash::PasswordHasher;
use verity::startup::Application;

#[path = "support.rs"]
#[allow(dead_code)] // percentile is for the load drivers
mod support;
use support::{cleanup, settings};

const PASSWORD: &str = "correct horse battery staple";

fn args() -> (String, usize) {
    let (mut db, mut n) = ("sqlite".to_owned(), 200);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--db" => db = it.next().unwrap_or(db),
            "--n" => n = it.next().and_then(|v| v.parse().ok()).unwrap_or(n),
            _ => {}
        }
    }
    (db, n)
}

struct Client {
    http: reqwest::Client,
    public: String,
}

impl Client {
    /// An api flow of `kind`, started (not timed); then `body` submitted and timed.
    async fn timed(&self, kind: &str, body: Value) -> anyhow::Result<Option<(u16, Duration)>> {
        let r = self
            .http
            .get(format!("{}/self-service/{kind}/api", self.public))
            .send()
            .await?;
        if r.status() == 404 || r.status() == 400 {
            return Ok(None);
        }
        let init: Value = r.json().await?;
        let id = init["id"].as_str().unwrap_or_default().to_owned();
        let url = format!("{}/self-service/{kind}?flow={id}", self.public);
        let started = Instant::now();
        let r = self.http.post(url).json(&body).send().await?;
        let status = r.status().as_u16();
        r.bytes().await?;
        Ok(Some((status, started.elapsed())))
    }
}

/// The D statistic of two samples and its asymptotic p-value (Smirnov's series).
fn kolmogorov_smirnov(a: &[Duration], b: &[Duration]) -> (f64, f64) {
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    let (n, m) = (a.len() as f64, b.len() as f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let ne = n * m / (n + m);
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    let p: f64 = (1..=100)
        .map(|k| {
            let k = k as f64;
            2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum();
    (d, p.clamp(0.0, 1.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(name: &str, mut known: Vec<Duration>, mut unknown: Vec<Duration>) {
    known.sort();
    unknown.sort();
    let (k, u) = (known[known.len() / 2], unknown[unknown.len() / 2]);
    let (d, p) = kolmogorov_smirnov(&known, &unknown);
    println!(
        "{name:<14} {:>5} {:>12.3} {:>12.3} {:>+9.3} {:>7.3} {:>9.2e}",
        known.len(),
        ms(k),
        ms(u),
        ms(k) - ms(u),
        d,
        p
    );
}

/// Times `n` pairs of (known, unknown) bodies for flow `kind`, reported as `name`; skipped if
/// the flow is off.
async fn pairs<F>(c: &Client, (name, kind): (&str, &str), n: usize, body: F) -> anyhow::Result<()>
where
    F: Fn(usize, bool) -> Value,
{
    let (mut known, mut unknown) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut known_status, mut unknown_status) = (None::<u16>, None::<u16>);
    for i in 0..n {
        // Alternate which goes first, so neither always runs on a warmer cache.
        for is_known in [i % 2 == 0, i % 2 == 1] {
            let Some((status, took)) = c.timed(kind, body(i, is_known)).await? else {
                println!("{name:<14} skipped: the flow is not enabled");
                return Ok(());
            };
            if status >= 500 {
                anyhow::bail!("{kind} answered {status}");
            }
            // The answers must not differ either, or the clock is not the oracle to test.
            let first = if is_known {
                &mut known_status
            } else {
                &mut unknown_status
            };
            if *first.get_or_insert(status) != status {
                anyhow::bail!("{name}: one branch answered {status}, before {first:?}");
            }
            if let (Some(k), Some(u)) = (known_status, unknown_status) {
                anyhow::ensure!(k == u, "{name}: known answered {k}, unknown {u}");
            }
            if is_known { &mut known } else { &mut unknown }.push(took);
        }
    }
    report(name, known, unknown);
    Ok(())
}

async fn create_identities(
    hasher: PasswordHasher,
    admin: &str,
    http: &reqwest::Client,
    n: usize,
) -> anyhow::Result<()> {
    let phc = hasher.hash(PASSWORD.to_owned()).await?;
    for i in 0..n {
        let email = format!("known{i}@example.com");
        let body = json!({
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"hashed_password": phc}}},
            "verifiable_addresses": [{"value": email, "via": "email", "verified": false, "status": "pending"}],
        });
        let r = http
            .post(format!("{admin}/admin/identities"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "creating an identity: {}", r.status());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    verity::install_crypto_provider();
    let (db, n) = args();
    let (mut settings, scratch) = settings(&db).await?;
    settings.selfservice.flows.recovery.enabled = Some(true);
    settings.selfservice.methods.code.passwordless_enabled = true;
    let hasher = PasswordHasher::new(&settings.hashers.argon2)?;
    let app = Application::build(settings, &ConfigSource::Bundled, true, true).await?;
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    create_identities(hasher, &admin, &http, n).await?;
    let c = Client { http, public };
    println!("verity timing check: db={db}, {n} known and {n} unknown, one request at a time");
    println!(
        "{:<14} {:>5} {:>12} {:>12} {:>9} {:>7} {:>9}",
        "flow", "n", "known p50 ms", "unkn. p50 ms", "diff ms", "KS D", "KS p"
    );
    let address = |i: usize, known: bool| match known {
        true => format!("known{i}@example.com"),
        false => format!("nobody{i}@example.com"),
    };
    let code_to = |i, k| json!({"method": "code", "email": address(i, k)});
    pairs(&c, ("verification", "verification"), n, code_to).await?;
    pairs(&c, ("recovery", "recovery"), n, code_to).await?;
    pairs(&c, ("login", "login"), n, |i, k| {
        json!({"method": "password", "identifier": address(i, k), "password": "wrong password 123"})
    })
    .await?;
    pairs(
        &c,
        ("login by code", "login"),
        n,
        |i, k| json!({"method": "code", "identifier": address(i, k)}),
    )
    .await?;
    // A taken address against a new one; the new ones become identities, so use fresh names.
    pairs(&c, ("registration", "registration"), n, |i, k| {
        let email = match k {
            true => format!("known{i}@example.com"),
            false => format!("fresh{i}@example.com"),
        };
        json!({"method": "password", "password": PASSWORD, "traits": {"email": email}})
    })
    .await?;
    cleanup(scratch).await
}
