//! Kratos's command lines: root `-c`, `serve --dev --watch-courier`, `migrate sql -e --yes` in
//! either order, `cleanup sql` on a live database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TempDir, TestApp, spawn_postgres_with, spawn_with};

fn verity() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verity"))
}

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml");

#[test]
fn migrate_sql_takes_the_config_before_or_after_the_command() {
    for order in [0, 1] {
        let dir = TempDir::new();
        let dsn = format!("sqlite://{}/m.sqlite?mode=rwc", dir.0.display());
        let args: Vec<&str> = if order == 0 {
            vec!["-c", CONFIG, "migrate", "sql", "-e", "--yes"]
        } else {
            vec!["migrate", "sql", "-e", "--yes", "--config", CONFIG]
        };
        let out = verity().args(&args).env("DSN", &dsn).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("Applied"), "{text}");
        let again = verity().args(&args).env("DSN", &dsn).output().unwrap();
        assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
    }
}

#[test]
fn migrate_sql_status_up_and_down_as_kratos_spells_them() {
    let dir = TempDir::new();
    let dsn = format!("sqlite://{}/u.sqlite?mode=rwc", dir.0.display());
    let status = verity()
        .args(["migrate", "sql", "status", &dsn])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success() && text.contains("pending"),
        "{text}"
    );
    let status_again = verity()
        .args(["migrate", "sql", "status", &dsn])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status_again.stdout).contains("pending"),
        "status applies nothing"
    );
    let up = verity()
        .args(["migrate", "sql", "up", "--yes", &dsn])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&up.stdout).contains("Applied"));
    let down = verity()
        .args(["migrate", "sql", "down", "-e", "--yes", "1"])
        .output()
        .unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("forward only"));
}

#[test]
fn serve_accepts_kratos_flags_and_starts() {
    let dir = TempDir::new();
    let dsn = format!("sqlite://{}/s.sqlite?mode=rwc", dir.0.display());
    let mut child = verity()
        .args([
            "serve",
            "-c",
            CONFIG,
            "--dev",
            "--watch-courier",
            "--sqa-opt-out",
        ])
        .env("DSN", &dsn)
        .env("SERVE_PUBLIC_PORT", "0")
        .env("SERVE_ADMIN_PORT", "0")
        .env("LOG_FORMAT", "text")
        .current_dir(&dir.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut listening = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                listening |= line.contains("verity is listening");
                seen.push(line);
                if listening {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "serve did not start:\n{}", seen.join("\n"));
}

#[test]
fn unknown_flags_are_still_refused() {
    let out = verity().args(["serve", "--no-such-flag"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}

#[tokio::test]
async fn cleanup_removes_flows_only_once_past_keep_last_sqlite() {
    cleanup_removes_flows_only_once_past_keep_last(spawn_with(|_| {}).await).await;
}

#[tokio::test]
async fn cleanup_removes_flows_only_once_past_keep_last_postgres() {
    if let Some(app) = spawn_postgres_with(|_| {}).await {
        cleanup_removes_flows_only_once_past_keep_last(app).await;
    }
}

async fn cleanup_removes_flows_only_once_past_keep_last(app: TestApp) {
    let make_flow = || async {
        let body: serde_json::Value = app
            .http
            .get(format!("{}/self-service/login/api", app.public))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["id"].as_str().unwrap().to_owned()
    };
    let old = make_flow().await;
    let fresh = make_flow().await;
    let store = app.store();
    // The old flow expired two hours ago (what the clock would say); the fresh one is live.
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let plan = verity::cleanup::Plan {
        keep_last: chrono::Duration::hours(1),
        batch: 1,
        sleep_tables: Duration::ZERO,
        unverified_lifespan: None,
    };
    let counts = verity::cleanup::run_once(store, plan, later - chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        counts.iter().map(|(_, n)| n).sum::<u64>(),
        0,
        "nothing is past keep_last yet"
    );
    let counts = verity::cleanup::run_once(store, plan, later).await.unwrap();
    let flows = counts
        .iter()
        .find(|(t, _)| *t == verity::persistence::cleanup::CleanupTarget::ExpiredFlows)
        .unwrap()
        .1;
    assert_eq!(flows, 2, "both flows, one batch of 1 at a time: {counts:?}");
    for id in [old, fresh] {
        let r = app
            .http
            .get(format!("{}/self-service/login/flows?id={id}", app.public))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "flow {id} removed");
    }
}

#[tokio::test]
async fn cleanup_expires_never_verified_identities_past_their_lifespan_sqlite() {
    cleanup_expires_never_verified_identities(spawn_with(|_| {}).await).await;
}

#[tokio::test]
async fn cleanup_expires_never_verified_identities_past_their_lifespan_postgres() {
    if let Some(app) = spawn_postgres_with(|_| {}).await {
        cleanup_expires_never_verified_identities(app).await;
    }
}

/// `identity.unverified_lifespan` also runs in the cleanup (SECURITY.md C2): an identity that
/// never verified an address goes once it is older than the lifespan; a verified one stays.
async fn cleanup_expires_never_verified_identities(app: TestApp) {
    let create = |email: &str, verified: bool| {
        let body = serde_json::json!({
            "schema_id": "default",
            "traits": {"email": email},
            "verifiable_addresses": [{"value": email, "via": "email", "verified": verified,
                "status": if verified { "completed" } else { "pending" }}],
        });
        let r = app
            .http
            .post(format!("{}/admin/identities", app.admin))
            .json(&body)
            .send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 201);
            let v: serde_json::Value = r.json().await.unwrap();
            v["id"].as_str().unwrap().to_owned()
        }
    };
    let squatter = create("never-proved@example.com", false).await;
    let owner = create("proved@example.com", true).await;
    let store = app.store();
    let mut plan = verity::cleanup::Plan {
        keep_last: chrono::Duration::hours(1),
        batch: 1,
        sleep_tables: Duration::ZERO,
        unverified_lifespan: None,
    };
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let removed = |counts: &[(verity::persistence::cleanup::CleanupTarget, u64)]| {
        counts
            .iter()
            .find(|(t, _)| *t == verity::persistence::cleanup::CleanupTarget::UnverifiedIdentities)
            .map(|(_, n)| *n)
    };
    let counts = verity::cleanup::run_once(store, plan, later).await.unwrap();
    assert_eq!(removed(&counts), None, "unset: never run");
    plan.unverified_lifespan = Some(chrono::Duration::hours(4));
    let counts = verity::cleanup::run_once(store, plan, later).await.unwrap();
    assert_eq!(removed(&counts), Some(0), "younger than the lifespan");
    plan.unverified_lifespan = Some(chrono::Duration::hours(2));
    let counts = verity::cleanup::run_once(store, plan, later).await.unwrap();
    assert_eq!(removed(&counts), Some(1), "{counts:?}");
    let status = |id: String| {
        let r = app
            .http
            .get(format!("{}/admin/identities/{id}", app.admin))
            .send();
        async move { r.await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status(squatter).await,
        404,
        "the never-verified identity is gone"
    );
    assert_eq!(status(owner).await, 200, "the verified one stays");
}

#[test]
fn cleanup_sql_runs_from_the_command_line() {
    let dir = TempDir::new();
    let dsn = format!("sqlite://{}/c.sqlite?mode=rwc", dir.0.display());
    let migrate = verity()
        .args(["migrate", "sql", "--yes", &dsn])
        .output()
        .unwrap();
    assert!(migrate.status.success());
    let out = verity()
        .args(["cleanup", "sql", "--keep-last", "24h", "-b", "50", &dsn])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for target in [
        "expired flows",
        "used or expired codes",
        "expired sessions",
        "sent message bodies",
    ] {
        assert!(text.contains(target), "{target}: {text}");
    }
    let bad = verity()
        .args(["cleanup", "sql", "-b", "0", &dsn])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test]
async fn the_in_process_schedule_removes_expired_flows() {
    let app = spawn_with(|s| {
        s.selfservice.flows.login.lifespan = verity::config::GoDuration::from_secs(1);
        s.database.cleanup.every = Some(verity::config::GoDuration::from_secs(1));
    })
    .await;
    let body: serde_json::Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app
            .http
            .get(format!("{}/self-service/login/flows?id={id}", app.public))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the schedule never removed the flow: {}",
            r.status()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn the_identities_client_reads_kratos_admin_url() {
    let app = spawn_with(|_| {}).await;
    app.create_identity(
        &serde_json::json!({"schema_id": "default", "traits": {"email": "kratos-url@example.com"}}),
    )
    .await;
    let admin = format!("{}/", app.admin);
    let out = tokio::task::spawn_blocking(move || {
        verity()
            .args(["identities", "list"])
            .env_remove("VERITY_ADMIN_URL")
            .env("KRATOS_ADMIN_URL", admin)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("kratos-url@example.com"), "{text}");
}

#[test]
fn several_config_files_layer_in_order() {
    let dir = TempDir::new();
    let over = dir.0.join("override.yml");
    std::fs::write(&over, "hashers:\n  bcrypt:\n    cost: 99\n").unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kratos/kratos.yml");
    let over = over.to_str().unwrap();
    let bad = verity()
        .args(["-c", fixture, "-c", over, "config", "validate"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("hashers.bcrypt.cost"),
        "{err}"
    );
    std::fs::write(over, "hashers:\n  bcrypt:\n    cost: 10\n").unwrap();
    let good = verity()
        .args(["config", "validate"])
        .env("VERITY_CONFIG", format!("{fixture},{over}"))
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}
