//! The floor: `floor.sql` (the round trip's minimal SQL) run by pgbench with C clients on the
//! benchmark's own database, right after the server's run, with the CPU of its backends.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::procfs::Snapshot;
use super::server::Db;

pub struct Floor {
    pub tps: f64,
    pub pg_cpu_ms: f64,
}

/// Runs pgbench for `seconds`; `None` (and a line saying why) when it cannot run.
pub async fn run(
    db: &Db,
    dsn: &str,
    clients: usize,
    seconds: u64,
    addresses: usize,
) -> Option<Floor> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/roundtrip/floor.sql");
    let pgbench = std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".into());
    let child = Command::new(&pgbench)
        .args(["-n", "-M", "prepared", "-f", script])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args([
            "-T",
            &seconds.to_string(),
            "-D",
            &format!("addresses={addresses}"),
        ])
        .arg(dsn)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("floor: cannot run {pgbench} ({e}); install postgresql-client");
            return None;
        }
    };
    // The backends live only while pgbench runs: sample their CPU until it ends, keeping each
    // backend's last reading.
    let mut last = Snapshot::default();
    let wait = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::pin!(wait);
    let output = loop {
        tokio::select! {
            out = &mut wait => break out,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                let pids = db.backends().await;
                last.merge(Snapshot::take(&pids));
            }
        }
    };
    let output = output.ok()?.ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok());
    let Some(tps) = tps else {
        println!(
            "floor: pgbench failed:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    };
    let transactions: f64 = text
        .lines()
        .find(|l| l.starts_with("number of transactions actually processed"))
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    // The whole run's backend CPU over the whole run's transactions.
    let cpu = last.since(&Snapshot::default());
    Some(Floor {
        tps,
        pg_cpu_ms: if transactions > 0.0 {
            cpu * 1e3 / transactions
        } else {
            0.0
        },
    })
}
