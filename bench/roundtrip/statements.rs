//! `--statements`: the SQL statements and transactions of each step of a round trip, counted
//! from the server's own log (sqlx writes one `sqlx::query` line per statement it runs,
//! `BEGIN` and `COMMIT` included). Lines inside a request's span belong to that request; the
//! others, between the send and the message's arrival, are the courier's claim and record.
//! Polling is set to an hour so no idle poll lands in a step.

use std::time::Duration;

use serde_json::{Value, json};

use super::driver::{self, address};
use super::server::{Db, Server};
use super::sink::Sink;

#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Count {
    statements: usize,
    /// `BEGIN`s seen in Postgres's statement log (`None` on SQLite).
    transactions: Option<usize>,
}

/// Whether a statement is the courier's (claiming or recording), not a request's.
fn courier_statement(sql: &str) -> bool {
    sql.contains("UPDATE courier_messages") || sql.contains("courier_message_dispatches")
}

/// The statement lines of a slice of the server's log (sqlx writes one per statement);
/// `courier`: the courier's or the requests'.
fn count(server_log: &str, courier: bool) -> usize {
    server_log
        .lines()
        .filter(|l| l.contains(" summary=\"") && l.contains(" rows_affected="))
        .filter(|l| courier_statement(l) == courier)
        .count()
}

/// `BEGIN`s of the benchmark's database in a slice of Postgres's log.
fn begins(pg_log: &str, db: &str) -> usize {
    let tag = format!("@{db} ");
    pg_log
        .lines()
        .filter(|l| l.contains(&tag))
        .filter(|l| {
            let upper = l.to_ascii_uppercase();
            upper.contains("STATEMENT: BEGIN") || upper.contains(": BEGIN")
        })
        .count()
}

/// New text of a growing file since the last call.
struct Tail {
    path: std::path::PathBuf,
    seen: usize,
}

impl Tail {
    fn new(path: std::path::PathBuf) -> Tail {
        let seen = std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
        Tail { path, seen }
    }

    fn next(&mut self) -> String {
        let text = std::fs::read(&self.path).unwrap_or_default();
        let new = String::from_utf8_lossy(text.get(self.seen..).unwrap_or(&[])).into_owned();
        self.seen = text.len().max(self.seen);
        new
    }
}

/// Postgres's own log, where `log_statement = all` for the benchmark's database writes every
/// statement, `BEGIN` and `COMMIT` included (`PG_LOG`, default Debian's path).
fn pg_log_path() -> std::path::PathBuf {
    std::env::var("PG_LOG")
        .unwrap_or_else(|_| "/var/log/postgresql/postgresql-15-main.log".into())
        .into()
}

pub async fn count_steps(kind: &str, env: &[(String, String)]) -> anyhow::Result<()> {
    let db = Db::create(kind).await?;
    let result = async {
        let sink = Sink::start().await?;
        let mut env = env.to_vec();
        env.push(("VERITY_LOG".into(), "warn,sqlx::query=debug".into()));
        env.push(("COURIER_WORKER_PULL_WAIT".into(), "1h".into()));
        db.log_statements().await?;
        let server = Server::start(&db.dsn(), &sink.uri(), &env).await?;
        let http = reqwest::Client::new();
        driver::create_identities(&http, &server.admin, 4).await?;
        let settle = Duration::from_millis(300);
        let mut log = Tail::new(server.log.clone());
        let pg_name = db.postgres_name();
        let mut pg = pg_name.as_ref().map(|_| Tail::new(pg_log_path()));
        let mut step = async |courier: bool| {
            tokio::time::sleep(settle).await;
            let (text, pg_text) = (log.next(), pg.as_mut().map(Tail::next));
            let statements = count(&text, courier);
            let transactions = pg_text.zip(pg_name.as_deref()).map(|(t, n)| begins(&t, n));
            (
                Count {
                    statements,
                    transactions,
                },
                text,
            )
        };
        let mut rows = Vec::new();
        // The first round trip warms caches (schemas, prepared statements); the last is shown.
        for i in 0..3 {
            step(false).await;
            let email = address(i);
            let flow: Value = http
                .get(format!("{}/self-service/verification/api", server.public))
                .send()
                .await?
                .json()
                .await?;
            let (create, _) = step(false).await;
            let url = format!(
                "{}/self-service/verification?flow={}",
                server.public,
                flow["id"].as_str().unwrap_or("")
            );
            let inbox = sink.expect(&email);
            let r = http
                .post(&url)
                .header("accept", "application/json")
                .json(&json!({"method": "code", "email": email}))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "send answered {}", r.status());
            let arrival = tokio::time::timeout(Duration::from_secs(10), inbox).await??;
            let (send, text) = step(false).await;
            let courier = Count {
                statements: count(&text, true),
                // Claim and record are single statements on Postgres.
                transactions: send.transactions.map(|_| 0),
            };
            let r: Value = http
                .post(&url)
                .header("accept", "application/json")
                .json(&json!({"method": "code", "code": arrival.code}))
                .send()
                .await?
                .json()
                .await?;
            anyhow::ensure!(r["state"] == "passed_challenge", "submit answered {r}");
            let (submit, _) = step(false).await;
            rows = vec![
                ("create flow", create),
                ("send code", send),
                ("courier claim + record sent", courier),
                ("submit code", submit),
            ];
        }
        println!("\n{kind}: SQL per step of one round trip (the third)\n");
        println!("| step | statements | BEGIN…COMMIT |\n|---|---|---|");
        let show = |t: Option<usize>| t.map_or("-".to_owned(), |t| t.to_string());
        let (mut statements, mut transactions) = (0, None::<usize>);
        for (step, c) in &rows {
            println!("| {step} | {} | {} |", c.statements, show(c.transactions));
            statements += c.statements;
            transactions = c.transactions.map(|t| t + transactions.unwrap_or(0));
        }
        println!("| round trip | {statements} | {} |", show(transactions));
        if std::env::var("ROUNDTRIP_SHOW_SQL").is_ok() {
            println!("{}", server.log_text());
        }
        anyhow::Ok(())
    }
    .await;
    db.drop().await;
    result
}
