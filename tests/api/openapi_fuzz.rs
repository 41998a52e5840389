//! schemathesis (PyPI) throws generated requests at every documented operation of both ports,
//! on SQLite and on Postgres: no 5xx, every answer's status, content type and body conform to
//! `GET /openapi.json`, and none takes longer than 5 s. Bounded by examples per operation and
//! by a wall-clock limit. `.ci/run` installs schemathesis in a virtualenv and names it in
//! `SCHEMATHESIS`; without it the test is skipped loudly (and fails under CI).

use std::process::Output;
use std::time::Duration;

use crate::helpers::{TempDir, TestApp, spawn_postgres_with, spawn_with};

/// Examples per operation and phase; about 1,100 requests per port at 10.
const EXAMPLES: &str = "15";
const WALL_CLOCK: Duration = Duration::from_secs(240);

fn schemathesis() -> Option<String> {
    let candidate = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let works = std::process::Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match (works, std::env::var("CI").is_ok()) {
        (true, _) => Some(candidate),
        (false, true) => panic!("CI is set but schemathesis ({candidate}) cannot be run"),
        (false, false) => {
            eprintln!(
                "\n*** SKIPPED: schemathesis is not installed (pip install schemathesis, or set \
                 SCHEMATHESIS), so the OpenAPI fuzz test did not run ***\n"
            );
            None
        }
    }
}

async fn fuzz(app: &TestApp, bin: &str, label: &str) {
    let dir = TempDir::new();
    let doc = app.get_admin("/openapi.json").await.text().await.unwrap();
    let path = dir.0.join("openapi.json");
    std::fs::write(&path, doc).unwrap();
    for (tag, base) in [("public", &app.public), ("admin", &app.admin)] {
        let mut cmd = std::process::Command::new(bin);
        cmd
            .args(["run", path.to_str().unwrap(), "--url", base, "--include-tag", tag])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", EXAMPLES, "--seed", "17"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--request-timeout", "10", "--max-response-time", "5"])
            .args(["--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(&dir.0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // A blocking thread waits for it while this runtime keeps serving its requests.
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = r.read_to_end(&mut s);
                s
            })
        };
        let (out_reader, err_reader) = (read(Box::new(stdout)), read(Box::new(stderr)));
        let waited = tokio::time::timeout(
            WALL_CLOCK,
            tokio::task::spawn_blocking(move || child.wait()),
        )
        .await;
        let Ok(status) = waited else {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            panic!("{label} {tag}: schemathesis ran past {WALL_CLOCK:?}");
        };
        let status = status.unwrap().unwrap();
        let out = Output {
            status,
            stdout: out_reader.join().unwrap(),
            stderr: err_reader.join().unwrap(),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text.lines().rev().take(12).collect::<Vec<_>>();
        println!(
            "{label} {tag}: {}",
            summary
                .iter()
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        );
        assert!(
            out.status.success(),
            "{label} {tag}: schemathesis found problems:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("generated"),
            "{label} {tag}: nothing was generated:\n{text}"
        );
    }
}

#[tokio::test]
async fn generated_requests_get_documented_answers_on_sqlite_and_postgres() {
    let Some(bin) = schemathesis() else {
        return;
    };
    let app = spawn_with(|_| {}).await;
    fuzz(&app, &bin, "sqlite").await;
    if let Some(app) = spawn_postgres_with(|_| {}).await {
        fuzz(&app, &bin, "postgres").await;
    }
}
