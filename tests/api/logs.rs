//! Secrets never reach the logs: the real binary, at debug level, serves a
//! verification and a password import; its log output is then searched for them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::TempDir;

/// The real binary with the bundled config on free ports, logging at debug level to a file.
struct Served {
    child: std::process::Child,
    public: String,
    admin: String,
    log_path: std::path::PathBuf,
    _dir: TempDir,
}

impl Served {
    fn logs(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log_path).unwrap()
    }
}

fn serve(envs: &[(&str, &str)]) -> Served {
    verity::install_crypto_provider();
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = TempDir::new();
    let sqlite = format!("sqlite://{}/logs.sqlite?mode=rwc", dir.0.display());
    let schemas = format!("file://{root}/identity-schemas/");
    let config: String = std::fs::read_to_string(format!("{root}/config.yml"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("base_url:"))
        .map(|l| {
            l.replace("port: 4433", "port: 0")
                .replace("port: 4434", "port: 0")
                .replace("file://identity-schemas/", &schemas)
                .replace("sqlite://verity.sqlite?mode=rwc", &sqlite)
                + "\n"
        })
        .collect();
    let path = dir.0.join("config.yml");
    std::fs::write(&path, &config).unwrap();
    let log_path = dir.0.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(["serve", "--dev", "--config", path.to_str().unwrap()])
        .env("VERITY_LOG", "debug")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    // The dev banner names the bound ports; a thread keeps draining stdout afterwards.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut public, mut admin) = (None, None);
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(u) = line.trim().strip_prefix("Public API:") {
                public = Some(u.trim().trim_end_matches('/').to_owned());
            }
            if let Some(u) = line.trim().strip_prefix("Admin API:") {
                admin = Some(u.trim().trim_end_matches('/').to_owned());
            }
            if let (Some(p), Some(a)) = (&public, &admin) {
                let _ = tx.send((p.clone(), a.clone()));
            }
        }
    });
    let (public, admin): (String, String) = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_default();
    assert!(
        !public.is_empty() && !admin.is_empty(),
        "the server printed its addresses"
    );

    Served {
        child,
        public,
        admin,
        log_path,
        _dir: dir,
    }
}

#[tokio::test]
async fn codes_passwords_and_secrets_never_reach_the_logs() {
    let Served {
        mut child,
        public,
        admin,
        log_path,
        _dir,
    } = serve(&[]);
    let http = reqwest::Client::new();
    let password = "correct-horse-battery-staple-7391";
    let created = http
        .post(format!("{admin}/admin/identities"))
        .json(
            &json!({"schema_id": "default", "traits": {"email": "logs@example.com"},
                      "credentials": {"password": {"config": {"password": password}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let flow: Value = http
        .get(format!("{public}/self-service/verification/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let action = format!(
        "{public}/self-service/verification?flow={}",
        flow["id"].as_str().unwrap()
    );
    let sent = http
        .post(&action)
        .header("accept", "application/json")
        .json(&json!({"method": "code", "email": "logs@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let mut code = String::new();
    for _ in 0..50 {
        let inbox: Value = http
            .get(format!("{admin}/admin/dev/inbox.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(c) = inbox[0]["code"].as_str() {
            code = c.to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(code.len(), 6, "the code reached the dev inbox");
    let done: Value = http
        .post(&action)
        .header("accept", "application/json")
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "passed_challenge");
    // The emailed link carries the code in its query string.
    let link = format!("{action}&code={code}");
    // Opened as a browser opens it: with a cookie jar for the flow it continues in.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let opened = browser.get(&link).send().await.unwrap();
    assert!(opened.status().is_success() || opened.status().is_redirection());

    // Sign-up and login passwords, the session token and a logout token in a URL.
    let signup_password = "registration-password-5521-unusual";
    let reg: Value = http
        .get(format!("{public}/self-service/registration/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed_up = http
        .post(format!("{public}/self-service/registration?flow={}", reg["id"].as_str().unwrap()))
        .header("accept", "application/json")
        .json(&json!({"method": "password", "password": signup_password, "traits": {"email": "logs-signup@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    let login: Value = http
        .get(format!("{public}/self-service/login/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session: Value = http
        .post(format!(
            "{public}/self-service/login?flow={}",
            login["id"].as_str().unwrap()
        ))
        .header("accept", "application/json")
        .json(
            &json!({"method": "password", "identifier": "logs@example.com", "password": password}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_token = session["session_token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    let logout: Value = http
        .get(format!("{public}/self-service/logout/browser"))
        .header("X-Session-Token", &session_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logout_token = logout["logout_token"].as_str().unwrap().to_owned();
    let out = http
        .get(logout["logout_url"].as_str().unwrap())
        .header("accept", "application/json")
        .header("X-Session-Token", &session_token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);

    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("request_id"),
        "the debug logs were captured: {} bytes",
        logs.len()
    );
    for secret in [
        code.as_str(),
        password,
        signup_password,
        session_token.as_str(),
        logout_token.as_str(),
        "dev-only-secret-change-me-0001",
        "dev-only-cookie-secret-change-me",
    ] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}

/// Audit events (issue 15.9): the real binary, JSON logs at the default level, partner API
/// traffic that authenticates, fails, sends, trips a limit and hits the SMS policy. Each event
/// is one line with its name and outcome; numbers and secrets appear in none of them. The
/// short-code warning is printed at start.
#[tokio::test]
async fn audit_events_are_one_json_line_each_without_secrets_or_numbers() {
    let served = serve(&[
        ("VERITY_LOG", "info"),
        ("LOG_FORMAT", "json"),
        ("SELFSERVICE_RATE_LIMITS_PHONE_SENDS_PER_NUMBER_10M", "1"),
        ("SELFSERVICE_METHODS_CODE_CONFIG_LENGTH", "4"),
        ("SELFSERVICE_METHODS_CODE_CONFIG_ALLOW_SHORT_CODES", "true"),
    ]);
    let (public, admin) = (served.public.clone(), served.admin.clone());

    let http = reqwest::Client::new();
    let key: Value = http
        .post(format!("{admin}/admin/api-keys"))
        .json(&json!({"name": "partner", "credits": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        key["key"].as_str().unwrap(),
        key["secret"].as_str().unwrap(),
    );
    let send = |number: &str, password: &str| {
        http.post(format!("{public}/fraud/send-sms"))
            .basic_auth(id, Some(password))
            .json(&json!({"phone_number": number}))
            .send()
    };
    assert_eq!(
        send("+12025550163", "wrong-secret").await.unwrap().status(),
        401
    );
    let sent: Value = send("+12025550163", secret)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_id = sent["request_id"].as_str().unwrap().to_owned();
    assert_eq!(send("+12025550163", secret).await.unwrap().status(), 429);
    assert_eq!(send("+449091234567", secret).await.unwrap().status(), 400);
    let verified: Value = http
        .post(format!("{public}/fraud/verify-sms"))
        .basic_auth(id, Some(secret))
        .json(&json!({"request_id": request_id, "received_code": "0000"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let logs = served.logs();
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "audit")
        .collect();
    let count = |event: &str| {
        audit
            .iter()
            .filter(|v| v["fields"]["event"] == event)
            .count()
    };
    assert_eq!(count("api_key_created"), 1, "{logs}");
    assert_eq!(count("api_key_refused"), 1, "{logs}");
    assert!(count("api_key_used") >= 4, "{logs}");
    assert_eq!(count("phone_code_sent"), 1, "{logs}");
    assert_eq!(count("sms_refused"), 1, "{logs}");
    // A wrong code is "rejected"; a lucky 0000 is "verified": either way one line.
    let verdict = if verified["is_verified"] == true {
        "phone_code_verified"
    } else {
        "phone_code_rejected"
    };
    assert_eq!(count(verdict), 1, "{logs}");
    let trip = audit
        .iter()
        .find(|v| v["fields"]["event"] == "rate_limited")
        .expect("a rate_limited line");
    assert_eq!(trip["fields"]["detail"], "phone_send_number_10m");
    assert_eq!(trip["fields"]["outcome"], "refused");
    assert_eq!(trip["fields"]["subject"].as_str().unwrap().len(), 32);
    assert!(
        logs.contains("\"level\":\"WARN\"") && logs.contains("refused by the SMS policy"),
        "the WARN line of the refusal"
    );
    assert!(
        logs.contains("below NIST 800-63B"),
        "the short-code warning at start"
    );
    for secret in [secret, "2025550163", "9091234567", "wrong-secret"] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}
/// A value a caller sent (here a refused `return_to`) cannot start a log line of its own or
/// carry terminal escapes, in text or in JSON (CWE-117).
#[tokio::test]
async fn request_values_cannot_forge_log_lines() {
    let forged = "2026-01-01T00:00:00Z INFO forged";
    for format in ["text", "json"] {
        let served = serve(&[("LOG_FORMAT", format)]);
        let payload = format!(
            "x%0A{}%0D%1B%5B31m%C2%85%E2%80%A8y",
            forged.replace(' ', "%20")
        );
        // The case, and a refused value the error log repeats (an unknown schema id).
        let refused = reqwest::get(format!(
            "{}/self-service/verification/api?return_to={payload}",
            served.public
        ))
        .await
        .unwrap();
        assert_eq!(refused.status(), 400, "{format}: the return_to is refused");
        let unknown = reqwest::get(format!("{}/schemas/{payload}", served.public))
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404, "{format}: no such schema");
        let logs = served.logs();
        assert!(
            logs.contains("INFO forged"),
            "{format}: the refused value is logged: {logs}"
        );
        for line in logs.lines() {
            assert!(
                !line.starts_with(forged),
                "{format}: a forged line: {line:?}"
            );
            assert!(
                !line.contains(['\r', '\u{85}', '\u{2028}']),
                "{format}: a raw control character: {line:?}"
            );
            if format == "json" {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line:?}"));
            }
        }
        assert!(!logs.contains('\u{1b}'), "{format}: a raw escape character");
    }
}

/// Nodes behind one balancer must share its URL as `serve.public.base_url` (the CSRF cookie's
/// name comes from it): a request for another host is warned about, once.
#[tokio::test]
async fn a_request_for_a_host_the_base_url_does_not_name_is_warned_about_once() {
    let served = serve(&[]);
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let res = http
            .get(format!("{}/health/alive", served.public))
            .header("x-forwarded-host", "login.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let logs = served.logs();
    let warned = logs
        .lines()
        .filter(|l| l.contains("serve.public.base_url does not name"))
        .collect::<Vec<_>>();
    assert_eq!(warned.len(), 1, "{logs}");
    assert!(warned[0].contains("login.example.com"), "{}", warned[0]);
}

#[tokio::test]
async fn each_request_is_logged_once_and_health_checks_can_be_left_out() {
    for quiet in [false, true] {
        let flag = if quiet { "true" } else { "false" };
        let served = serve(&[
            ("SERVE_PUBLIC_REQUEST_LOG_DISABLE_FOR_HEALTH", flag),
            ("SERVE_ADMIN_REQUEST_LOG_DISABLE_FOR_HEALTH", flag),
        ]);
        let http = reqwest::Client::new();
        for url in [
            format!("{}/health/alive", served.public),
            format!("{}/health/ready", served.admin),
            format!("{}/self-service/login/api", served.public),
        ] {
            assert!(http.get(&url).send().await.unwrap().status().is_success());
        }
        let logs = served.logs();
        let done: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("completed handling request"))
            .collect();
        let login = done
            .iter()
            .filter(|l| l.contains("/self-service/login/api"))
            .count();
        let health = done.iter().filter(|l| l.contains("/health/")).count();
        assert_eq!(login, 1, "quiet={quiet}: {done:#?}");
        assert_eq!(
            health,
            if quiet { 0 } else { 2 },
            "quiet={quiet}: {done:#?}"
        );
    }
}
