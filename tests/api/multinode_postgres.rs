//! A Postgres restart under three nodes: every node answers 503 while the database is gone
//! and recovers by itself when it is back. Restarting the shared test Postgres would break
//! other tests running at the same time, so this test runs its own cluster: Debian's
//! `initdb` into a temporary directory on a free port (as the `postgres` user when run as
//! root, since Postgres refuses to run as root), stopped and started with `pg_ctl`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::TempDir;
use crate::multinode_courier::deliveries;
use crate::multinode_support::{Cluster, ClusterSpec, free_port, nginx_available, queue_emails};
use crate::support_smtp::SmtpSink;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

struct PrivatePostgres {
    dir: TempDir,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// `None` (after a loud skip; a failure under CI) when Debian's server binaries are missing.
    fn init() -> Option<PrivatePostgres> {
        if !PathBuf::from(PG_BIN).join("initdb").exists() {
            assert!(
                std::env::var("CI").is_err(),
                "CI is set but {PG_BIN}/initdb is missing"
            );
            eprintln!(
                "\n*** SKIPPED: {PG_BIN}/initdb is missing, so the Postgres restart test did not run ***\n"
            );
            return None;
        }
        let dir = TempDir::new();
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "chown the data directory to postgres"
            );
        }
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
            as_postgres,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.0.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let bin = format!("{PG_BIN}/{tool}");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &bin]);
            c
        } else {
            Command::new(&bin)
        };
        let out = cmd.args(args).output().expect("run a Postgres tool");
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.0.display()
        );
        let log = self.dir.0.join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn dsn(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.stop()));
    }
}

async fn status(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_gives_503_and_every_node_recovers_by_itself() {
    verity::install_crypto_provider();
    if !nginx_available() {
        return;
    }
    let Some(pg) = PrivatePostgres::init() else {
        return;
    };
    let sink = SmtpSink::start().await;
    sink.set_data_delay(Duration::from_millis(20));
    // The leases outlast the outage (about 9 s). A lease that runs out while the database is
    // away can go to another node before its holder records the send, which is at-least-once
    // as the README's scale-out guide says; a longer lease closes that race.
    let cluster = Cluster::start(ClusterSpec {
        nodes: 3,
        dsn: pg.dsn(),
        smtp_uri: Some(sink.uri()),
        extra: &[("COURIER_WORKER_LEASE", "30s")],
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let flow = |base: String| format!("{base}/self-service/verification/api");
    for n in &cluster.nodes {
        assert_eq!(status(&http, &flow(n.public())).await, 200);
    }

    // Couriers on every node are sending when the database goes away.
    let total = 300;
    queue_emails(&pg.dsn(), total, "outage").await;
    assert!(sink.wait_for(60, Duration::from_secs(30)).await >= 60);
    pg.stop();
    let down = Instant::now();
    // Asked all at once: each answer waits for the pool's acquire timeout (3 s).
    let mut urls: Vec<(String, u16)> = vec![(flow(cluster.nginx.url()), 503)];
    for n in &cluster.nodes {
        urls.push((flow(n.public()), 503));
        urls.push((format!("{}/health/ready", n.admin()), 503));
        urls.push((format!("{}/health/alive", n.admin()), 200));
    }
    let answers = futures_util::future::join_all(urls.iter().map(|(u, _)| status(&http, u))).await;
    for ((url, want), got) in urls.iter().zip(answers) {
        assert_eq!(
            got,
            *want,
            "{url} while the database is down\n{}",
            cluster.logs()
        );
    }
    let outage = down.elapsed();

    pg.start();
    let back = Instant::now();
    let mut recovered = Vec::new();
    for n in &cluster.nodes {
        let ready = n.wait_ready(Duration::from_secs(30)).await;
        assert_eq!(
            status(&http, &flow(n.public())).await,
            200,
            "{}",
            cluster.logs()
        );
        recovered.push(ready);
    }
    // Every message arrives, and a send whose recording met the outage is not sent again.
    let arrived = sink.wait_for(total, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_recipient = deliveries(&sink);
    let twice = per_recipient.values().filter(|ids| ids.len() > 1).count();
    println!(
        "multinode postgres restart: 503 on every node during a {:.1} s outage; ready again after {:?} (all within {:.2} s); \
         {arrived} of {total} messages arrived, {twice} twice",
        outage.as_secs_f64(),
        recovered,
        back.elapsed().as_secs_f64()
    );
    assert_eq!(
        per_recipient.len(),
        total,
        "every message arrived\n{}",
        cluster.logs()
    );
    assert_eq!(twice, 0, "no message was sent twice across the outage");
}
