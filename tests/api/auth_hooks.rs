//! After-registration and after-login web hooks, and shedding of password work under load.

use serde_json::{Value, json};
use verity::config::{HookConfig, MethodAfter};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::auth_support::{FlowClient, PASSWORD, register, register_verified, sign_in};
use crate::helpers::spawn_with;
use crate::verification_support::Kind;

fn web_hook(url: &str) -> HookConfig {
    HookConfig {
        hook: "web_hook".into(),
        config: Some(json!({
            "url": url,
            "method": "POST",
            "body": "function(ctx) { email: ctx.identity.traits.email, flow_type: ctx.flow.type }"
        })),
    }
}

#[tokio::test]
async fn web_hooks_run_after_registration_and_login() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/registered"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/logged-in"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (reg_url, login_url) = (
        format!("{}/registered", server.uri()),
        format!("{}/logged-in", server.uri()),
    );
    let app = spawn_with(move |s| {
        s.selfservice.flows.registration.after.password = Some(MethodAfter {
            default_browser_return_url: None,
            hooks: vec![
                HookConfig {
                    hook: "show_verification_ui".into(),
                    config: None,
                },
                web_hook(&reg_url),
            ],
        });
        s.selfservice.flows.login.after.password = Some(MethodAfter {
            default_browser_return_url: None,
            hooks: vec![
                HookConfig {
                    hook: "require_verified_address".into(),
                    config: None,
                },
                web_hook(&login_url),
            ],
        });
    })
    .await;
    register_verified(&app, "hooked@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    assert_eq!(
        c.submit(
            &app,
            "login",
            &flow,
            sign_in("hooked@example.com", PASSWORD)
        )
        .await
        .status,
        200
    );
    let received = server.received_requests().await.unwrap();
    let bodies: Vec<(String, Value)> = received
        .iter()
        .map(|r| {
            (
                r.url.path().to_owned(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bodies,
        [
            (
                "/registered".to_owned(),
                json!({"email": "hooked@example.com", "flow_type": "api"})
            ),
            (
                "/logged-in".to_owned(),
                json!({"email": "hooked@example.com", "flow_type": "api"})
            ),
        ]
    );
}

#[tokio::test]
async fn a_login_storm_is_shed_quickly_instead_of_queued() {
    let app = spawn_with(|s| {
        s.selfservice.flows.login.after = verity::config::AfterConfig::default();
        s.selfservice.rate_limits.enabled = false;
        // Real cost and a single hashing slot, so concurrent logins must be turned away.
        s.hashers.argon2.memory = verity::config::ByteSize::kib(19 * 1024);
        s.hashers.argon2.iterations = 2;
        s.hashers.argon2.max_concurrent = Some(1);
    })
    .await;
    register(&app, "storm@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let public = app.public.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let flow: Value = http
                .get(format!("{public}/self-service/login/api"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let resp = http
                .post(format!(
                    "{public}/self-service/login?flow={}",
                    flow["id"].as_str().unwrap()
                ))
                .header("Accept", "application/json")
                .json(&sign_in("storm@example.com", PASSWORD))
                .send()
                .await
                .unwrap();
            (
                resp.status().as_u16(),
                resp.headers().get("retry-after").is_some(),
            )
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let shed: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!shed.is_empty(), "some logins are shed: {results:?}");
    assert!(
        shed.iter().all(|(_, retry)| *retry),
        "shed answers carry Retry-After"
    );
    assert_eq!(ok + shed.len(), 20, "nothing else: {results:?}");
}
