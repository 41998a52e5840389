//! A Kratos-style config (tests/kratos/kratos.yml: every key the Kratos quickstart configs
//! use, and common production keys) starts, `config validate` lists every ignored key in one
//! run; CORS preflights from allowed and refused origins; repeated slashes in paths.

use std::path::PathBuf;
use std::process::Command;

use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use verity::config::ConfigSource;

use crate::helpers::{TempDir, TestApp, spawn_loaded, spawn_with};

fn fixture() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/kratos/kratos.yml"
    ))
}

/// Every key of the fixture that Verity ignores, each of which must be named once.
const IGNORED: &[&str] = &[
    "ciphers.algorithm",
    "clients.http",
    "feature_flags.use_continue_with_transitions",
    "hashers.argon2.expected_duration",
    "selfservice.flows.registration.after.passkey",
    "selfservice.flows.registration.after.webauthn",
    "selfservice.flows.registration.enable_legacy_one_step",
    "selfservice.flows.settings.required_aal",
    "selfservice.methods.lookup_secret",
    "selfservice.methods.passkey",
    "selfservice.methods.totp",
    "selfservice.methods.webauthn",
    "serve.public.cors.debug",
    "serve.public.tls",
    "session.whoami.required_aal",
    "session.whoami.tokenizer",
    "tracing",
];

#[test]
fn config_validate_lists_every_ignored_kratos_key_in_one_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(["-c", fixture().to_str().unwrap(), "config", "validate"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("with {} warning(s)", IGNORED.len())),
        "{stdout}"
    );
    for key in IGNORED {
        assert_eq!(
            stdout.matches(&format!("`{key}`:")).count(),
            1,
            "{key} once in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("bundled offline list"),
        "haveibeenpwned said: {stdout}"
    );
}

#[test]
fn config_validate_reports_every_error_with_its_fix() {
    let dir = TempDir::new();
    let text = std::fs::read_to_string(fixture())
        .unwrap()
        .replace(
            "    base_url: http://kratos:4434/",
            "    base_url: http://kratos:4434/\n    prot: 4434\n    port: eighty",
        )
        .replace("  lifespan: 24h", "  lifespan: 24h\n  lifespam: 1h")
        .replace("    cost: 8", "    cost: 99");
    let path = dir.0.join("kratos.yml");
    std::fs::write(&path, text).unwrap();
    std::fs::copy(
        fixture().with_file_name("identity.schema.json"),
        dir.0.join("identity.schema.json"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verity"))
        .args(["config", "validate", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "`serve.admin.prot`: unknown key",
        "did you mean `port`",
        "`serve.admin.port`",
        "`session.lifespam`",
        "did you mean `lifespan`",
        "`hashers.bcrypt.cost`: must be between 4 and 31",
        "`selfservice.methods.totp`",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}

/// The fixture loaded as `verity serve -c` would, on a fresh SQLite file and free ports.
async fn spawn_fixture() -> TestApp {
    spawn_fixture_with(&[]).await
}

async fn spawn_fixture_with(extra: &[(&str, String)]) -> TestApp {
    let dir = TempDir::new();
    let mut env = vec![
        (
            "DSN".to_owned(),
            format!("sqlite://{}/k.sqlite?mode=rwc", dir.0.display()),
        ),
        ("SERVE_PUBLIC_PORT".to_owned(), "0".to_owned()),
        ("SERVE_ADMIN_PORT".to_owned(), "0".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let source = ConfigSource::File(fixture());
    let settings = verity::config::load(&source, env).expect("the Kratos-style config loads");
    assert_eq!(settings.warnings.len(), IGNORED.len());
    spawn_loaded(settings, &source, dir).await
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[tokio::test]
async fn the_kratos_style_config_starts_and_serves_flows() {
    let app = spawn_fixture().await;
    let flow = app
        .http
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(flow.status(), 200);
    let body: serde_json::Value = flow.json().await.unwrap();
    let groups: Vec<&str> = body["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["group"].as_str())
        .collect();
    for absent in ["totp", "lookup_secret", "webauthn", "passkey"] {
        assert!(
            !groups.contains(&absent),
            "{absent} is never offered: {groups:?}"
        );
    }
    assert_eq!(
        app.registry.settings.hashers.algorithm,
        verity::config::HashAlgorithm::Bcrypt
    );
}

#[tokio::test]
async fn cors_preflights_from_allowed_and_refused_origins() {
    let app = spawn_fixture().await;
    let url = format!("{}/self-service/login/api", app.public);
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type, x-session-token",
            )
            .send()
    };
    for origin in ["https://app.example.com", "http://127.0.0.1:4455"] {
        let r = preflight(origin).await.unwrap();
        assert_eq!(r.status(), 204, "{origin}");
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "POST");
        assert_eq!(
            h["access-control-allow-headers"],
            "content-type, x-session-token"
        );
        assert_eq!(h["access-control-max-age"], "600");
    }
    for origin in [
        "https://evil.test",
        "http://app.example.com",
        "https://example.com",
    ] {
        let r = preflight(origin).await.unwrap();
        assert_eq!(r.status(), 204, "{origin}");
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin} refused"
        );
    }
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "TRACE")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "method not allowed"
    );
    let r = app
        .http
        .get(&url)
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        r.headers()["access-control-expose-headers"],
        "Content-Type, Set-Cookie"
    );
    let r = app
        .http
        .get(&url)
        .header("Origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let guard = &app.registry.guards.cross_site;
    let cross = |o| headers(&[("sec-fetch-site", "cross-site"), ("origin", o)]);
    assert!(!guard.refuses(
        &Method::POST,
        "/self-service/login",
        &cross("https://app.example.com")
    ));
    assert!(guard.refuses(
        &Method::POST,
        "/self-service/login",
        &cross("https://evil.test")
    ));
}

#[tokio::test]
async fn cors_is_off_unless_enabled_and_works_on_the_admin_port() {
    let app = spawn_with(|s| {
        s.serve.admin.cors.enabled = true;
        s.serve.admin.cors.allowed_origins = vec!["https://console.example.com".into()];
    })
    .await;
    let ask = |base: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{base}/admin/identities"))
            .header("Origin", "https://console.example.com")
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let admin = ask(&app.admin).await.unwrap();
    assert_eq!(admin.status(), 204);
    assert_eq!(
        admin.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    let public = ask(&app.public).await.unwrap();
    assert!(
        public
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn repeated_slashes_are_redirected_or_routed_to_the_clean_path() {
    let app = spawn_with(|_| {}).await;
    let r = app
        .http
        .get(format!(
            "{}//self-service//registration/api?refresh=false",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(
        r.headers()["location"],
        "/self-service/registration/api?refresh=false"
    );
    let flow: serde_json::Value = app
        .http
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = flow["id"].as_str().unwrap();
    let r = app
        .http
        .head(format!(
            "{}//self-service/registration/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    let r = app
        .http
        .post(format!("{}//self-service/registration?flow={id}", app.public))
        .json(&serde_json::json!({"method": "password", "password": "x", "traits": {"email": "not-an-email"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a POST reaches its route");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["id"], id);
    let r = app
        .http
        .post(format!("{}//admin//identities", app.admin))
        .json(
            &serde_json::json!({"schema_id": "default", "traits": {"email": "slash@example.com"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the admin port too");
}

#[tokio::test]
async fn with_the_http_strategy_a_sign_up_email_reaches_the_mail_endpoint() {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/mail"))
        .respond_with(wiremock::ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let app = spawn_fixture_with(&[
        ("COURIER_DELIVERY_STRATEGY", "http".to_owned()),
        (
            "COURIER_HTTP_REQUEST_CONFIG_URL",
            format!("{}/mail", server.uri()),
        ),
    ])
    .await;
    crate::auth_support::register(&app, "http-mail@example.com").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let reqs = server.received_requests().await.unwrap();
        let bodies: Vec<serde_json::Value> = reqs
            .iter()
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect();
        if let Some(b) = bodies
            .iter()
            .find(|b| b["recipient"] == "http-mail@example.com")
        {
            assert_eq!(b["template_type"], "verification_code_valid", "{b}");
            assert!(
                b["body"]
                    .as_str()
                    .unwrap()
                    .contains(b["verification_code"].as_str().unwrap())
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email reached the endpoint: {bodies:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
