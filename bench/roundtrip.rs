//! Out-of-process round-trip benchmark: what a user waits for, against `verity serve` (the
//! release binary, a child process) on Postgres and SQLite.
//!
//!   cargo bench --bench roundtrip -- [--db postgres,sqlite] [--concurrency 1,16,64]
//!       [--seconds 10] [--addresses 2000] [--env KEY=VALUE]... [--statements]
//!
//! A round trip: create an api verification flow, send a code to an address, wait until the
//! courier delivers the message to this driver's SMTP sink, submit the code from it. C clients
//! run round trips back to back (closed loop) for `--seconds` after a 2 s warm-up, per C.
//! Reported per C: round trips/s, p50/p99 of each step and of the time to inbox (from the
//! send's answer to the message's arrival), CPU per round trip of the server and of the
//! Postgres backends serving its database (from /proc), the server's peak RSS. On Postgres,
//! pgbench then runs `bench/roundtrip/floor.sql` (the round trip's minimal SQL) with the same C
//! on the same database: the floor, so that figures are ratios of one run on one machine.
//! `--statements` instead counts the SQL statements and transactions of each step of one round
//! trip (from the server's own `sqlx::query` log lines). Postgres: BENCH_DATABASE_URL or
//! TEST_DATABASE_URL (a database is created and dropped). `--env` passes settings to the
//! server (e.g. `--env COURIER_WORKER_PULL_WAIT=50ms`); BENCH_SQLITE_DSN_PARAMS is appended
//! to the SQLite DSN (e.g. `&max_conns=8`).

use std::time::{Duration, Instant};

#[path = "roundtrip/driver.rs"]
mod driver;
#[path = "roundtrip/floor.rs"]
mod floor;
#[path = "roundtrip/procfs.rs"]
mod procfs;
#[path = "roundtrip/server.rs"]
mod server;
#[path = "roundtrip/sink.rs"]
mod sink;
#[path = "roundtrip/statements.rs"]
mod statements;

use driver::{Sample, Target};
use procfs::Snapshot;
use server::{Db, Server};

struct Args {
    dbs: Vec<String>,
    levels: Vec<usize>,
    seconds: u64,
    addresses: usize,
    env: Vec<(String, String)>,
    statements: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        dbs: vec!["postgres".into(), "sqlite".into()],
        levels: vec![1, 16, 64],
        seconds: 10,
        addresses: 2000,
        env: Vec::new(),
        statements: false,
    };
    let list = |v: Option<String>| -> Vec<String> {
        v.unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect()
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--db" => a.dbs = list(it.next()),
            "--concurrency" => {
                a.levels = list(it.next())
                    .iter()
                    .map(|c| c.parse())
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => a.seconds = it.next().unwrap_or_default().parse()?,
            "--addresses" => a.addresses = it.next().unwrap_or_default().parse()?,
            "--env" => {
                let kv = it.next().unwrap_or_default();
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--env KEY=VALUE"))?;
                a.env.push((k.to_owned(), v.to_owned()));
            }
            "--statements" => a.statements = true,
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

/// One level's figures.
struct Level {
    db: String,
    clients: usize,
    rate: f64,
    steps: [(f64, f64); 4],
    server_cpu_ms: f64,
    pg_cpu_ms: f64,
    errors: usize,
}

async fn run_level(
    t: &Target,
    server: &Server,
    db: &Db,
    clients: usize,
    seconds: u64,
) -> (Level, Vec<String>) {
    let begin = Instant::now();
    let window_start = begin + Duration::from_secs(2);
    let window_end = window_start + Duration::from_secs(seconds);
    let target = t.clone();
    let run = tokio::spawn(async move { driver::closed_loop(&target, clients, window_end).await });
    tokio::time::sleep_until(window_start.into()).await;
    let pids = db.backends().await;
    let (srv0, pg0) = (procfs::cpu_seconds(server.pid()), Snapshot::take(&pids));
    tokio::time::sleep_until(window_end.into()).await;
    let pids = db.backends().await;
    let (srv1, pg1) = (procfs::cpu_seconds(server.pid()), Snapshot::take(&pids));
    let (samples, errors) = run.await.expect("the driver");
    let done: Vec<Sample> = samples
        .into_iter()
        .filter(|s| s.ended >= window_start && s.ended <= window_end)
        .collect();
    let n = done.len().max(1) as f64;
    let step = |f: fn(&Sample) -> Duration| {
        let v: Vec<Duration> = done.iter().map(f).collect();
        (pct(v.clone(), 0.5), pct(v, 0.99))
    };
    let level = Level {
        db: String::new(),
        clients,
        rate: done.len() as f64 / seconds as f64,
        steps: [
            step(|s| s.create),
            step(|s| s.send),
            step(|s| s.inbox),
            step(|s| s.submit),
        ],
        server_cpu_ms: (srv1 - srv0) * 1e3 / n,
        pg_cpu_ms: pg1.since(&pg0) * 1e3 / n,
        errors: errors.len(),
    };
    (level, errors)
}

async fn bench_db(
    a: &Args,
    kind: &str,
) -> anyhow::Result<(Vec<Level>, Vec<(usize, floor::Floor)>, f64)> {
    let db = Db::create(kind).await?;
    let result = async {
        let sink = sink::Sink::start().await?;
        let server = Server::start(&db.dsn(), &sink.uri(), &a.env).await?;
        let t = Target::new(server.public.clone(), sink, a.addresses);
        driver::create_identities(&t.http, &server.admin, a.addresses).await?;
        let mut levels = Vec::new();
        for &c in &a.levels {
            let (mut level, errors) = run_level(&t, &server, &db, c, a.seconds).await;
            level.db = kind.to_owned();
            if let Some(e) = errors.first() {
                println!(
                    "{kind} C={c}: {} failed round trips, e.g. {e}",
                    errors.len()
                );
            }
            levels.push(level);
        }
        let rss = procfs::peak_rss_mib(server.pid());
        drop(server);
        let mut floors = Vec::new();
        if kind == "postgres" {
            for &c in &a.levels {
                if let Some(f) = floor::run(&db, &db.dsn(), c, a.seconds, a.addresses).await {
                    floors.push((c, f));
                }
            }
        }
        anyhow::Ok((levels, floors, rss))
    }
    .await;
    db.drop().await;
    result
}

fn print_table(levels: &[Level], floors: &[(usize, floor::Floor)], rss: &[(String, f64)]) {
    println!(
        "\n| db | C | round trips/s | x floor | create p50/p99 ms | send p50/p99 ms | inbox p50/p99 ms | submit p50/p99 ms | CPU/round trip server + Postgres ms | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for l in levels {
        let ratio = floors
            .iter()
            .find(|(c, _)| *c == l.clients)
            .map_or("-".to_owned(), |(_, f)| format!("{:.3}", l.rate / f.tps));
        let s: Vec<String> = l
            .steps
            .iter()
            .map(|(p50, p99)| format!("{p50:.1} / {p99:.1}"))
            .collect();
        let pg = if l.db == "postgres" {
            format!("{:.2}", l.pg_cpu_ms)
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {:.0} | {ratio} | {} | {} | {} | {} | {:.2} + {pg} | {} |",
            l.db, l.clients, l.rate, s[0], s[1], s[2], s[3], l.server_cpu_ms, l.errors
        );
    }
    for (c, f) in floors {
        println!(
            "| pgbench floor | {c} | {:.0} | 1 | - | - | - | - | 0 + {:.2} | - |",
            f.tps, f.pg_cpu_ms
        );
    }
    for (db, mib) in rss {
        println!("peak RSS of the server ({db}): {mib:.1} MiB");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    verity::install_crypto_provider();
    let a = args()?;
    if a.statements {
        for kind in &a.dbs {
            statements::count_steps(kind, &a.env).await?;
        }
        return Ok(());
    }
    println!(
        "round trips: db={:?} C={:?} {} s per level after 2 s of warm-up, {} addresses, cores={}",
        a.dbs,
        a.levels,
        a.seconds,
        a.addresses,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let (mut levels, mut floors, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for kind in &a.dbs {
        let (l, f, r) = bench_db(&a, kind).await?;
        levels.extend(l);
        floors.extend(f);
        rss.push((kind.clone(), r));
    }
    print_table(&levels, &floors, &rss);
    Ok(())
}
