//! Lockouts that spare the owner: an attacker's wrong passwords slow that attacker (per
//! identifier and client, a growing delay) and, past a much higher threshold, lock the
//! identifier for clients it never signed in from; a browser the owner signed in from
//! before still gets in, and recovery and sign-in by code are never blocked by password
//! failures. Wrong verification codes count per address and client, so the owner can still
//! verify. Each client comes from its own address (`X-Forwarded-For` from a trusted proxy).

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::auth_support::{FlowClient, PASSWORD, sign_in};
use crate::helpers::{TestApp, spawn_with};
use crate::login_code::passwordless;
use crate::recovery_support::{code_sent, finished, newest_code, submit_code};
use crate::verification_support::{self as vs, Kind, Reply};

fn behind_proxy(s: &mut verity::config::Settings) {
    s.serve.public.trusted_proxies = vec!["127.0.0.1/32".into()];
}

/// A client of `kind` whose requests come from `ip`, with its own cookie jar.
fn client_from(kind: Kind, ip: &str) -> FlowClient {
    let mut headers = HeaderMap::new();
    headers.insert("X-Forwarded-For", HeaderValue::from_str(ip).unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    FlowClient { kind, http }
}

async fn try_password(app: &TestApp, c: &FlowClient, email: &str, password: &str) -> Reply {
    let flow = c.init(app, "login").await;
    c.submit(app, "login", &flow, sign_in(email, password))
        .await
}

/// A verified identity with the test password.
async fn owner(app: &TestApp, email: &str) {
    let body = json!({"schema_id": "default", "traits": {"email": email},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
        "credentials": {"password": {"config": {"password": PASSWORD}}}});
    app.create_identity(&body).await;
}

/// The owner's browser after one sign-in, signed out again: it keeps only its device mark.
async fn known_browser(app: &TestApp, email: &str, ip: &str) -> FlowClient {
    let first = client_from(Kind::Browser, ip);
    let r = try_password(app, &first, email, PASSWORD).await;
    assert_eq!(r.status, 303, "{r:?}");
    let mark = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("verity_device="))
        .expect("a device mark")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut headers = HeaderMap::new();
    headers.insert("X-Forwarded-For", HeaderValue::from_str(ip).unwrap());
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&mark, &app.public.parse().unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar)
        .default_headers(headers)
        .build()
        .unwrap();
    FlowClient {
        kind: Kind::Browser,
        http,
    }
}

#[tokio::test]
async fn an_attackers_failures_slow_the_attacker_not_the_owner() {
    let app = spawn_with(behind_proxy).await;
    let email = "owner@example.com";
    owner(&app, email).await;
    let attacker = client_from(Kind::Api, "203.0.113.66");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(try_password(&app, &attacker, email, "guess").await.status);
    }
    // Refused attempts are not counted: the identifier is far from its hard lock.
    assert_eq!(statuses, [[400; 5].as_slice(), &[429; 7]].concat());
    let r = try_password(&app, &attacker, email, "guess").await;
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "a short delay first: {wait}");
    // The owner, from elsewhere and never seen before, signs in with the right password.
    let r = try_password(
        &app,
        &client_from(Kind::Api, "198.51.100.7"),
        email,
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn past_the_hard_lock_a_known_browser_still_gets_in_and_codes_still_work() {
    let app = spawn_with(|s| {
        behind_proxy(s);
        passwordless(s);
        s.selfservice.rate_limits.login_failures_per_account_15m = 6;
    })
    .await;
    let email = "targeted@example.com";
    owner(&app, email).await;
    let browser = known_browser(&app, email, "198.51.100.7").await;
    // A distributed attack: three addresses, under each one's delay, past the hard lock.
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let c = client_from(Kind::Api, ip);
        for _ in 0..2 {
            assert_eq!(try_password(&app, &c, email, "guess").await.status, 400);
        }
    }
    let fresh = client_from(Kind::Api, "192.0.2.9");
    let r = try_password(&app, &fresh, email, PASSWORD).await;
    assert_eq!(r.status, 429, "a client never seen meets the lock: {r:?}");

    let r = try_password(&app, &browser, email, PASSWORD).await;
    assert_eq!(r.status, 303, "the owner's browser signs in: {r:?}");
    assert!(r.cookie_names().iter().any(|n| n == "ory_kratos_session"));

    // Recovery and sign-in by code do not look at password failures.
    let (flow, _) = code_sent(&app, &fresh, email).await;
    let reply = submit_code(&app, &fresh, &flow, &newest_code(&app, email, 1).await).await;
    finished(&app, Kind::Api, &reply);
    let c = client_from(Kind::Api, "192.0.2.10");
    let flow = c.init(&app, "login").await;
    let sent = c
        .submit(
            &app,
            "login",
            &flow,
            json!({"method": "code", "identifier": email}),
        )
        .await;
    assert_eq!(sent.status, 400, "{sent:?}");
    let code = newest_code(&app, email, 2).await;
    let r = c
        .submit(
            &app,
            "login",
            &sent.body,
            json!({"method": "code", "code": code, "identifier": email}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn an_attackers_wrong_codes_do_not_keep_the_owner_from_verifying() {
    let app = spawn_with(|s| {
        behind_proxy(s);
        s.selfservice.rate_limits.code_failures_per_address_day = 3;
    })
    .await;
    let email = "verifier@example.com";
    let identity = vs::create_email_identity(&app, email).await;
    let attacker = vs::Client {
        kind: Kind::Api,
        http: client_from(Kind::Api, "203.0.113.66").http,
    };
    for _ in 0..2 {
        let flow = attacker.init(&app).await;
        let flow = attacker.send_code(&app, &flow, email).await.body;
        for _ in 0..2 {
            attacker.use_code(&app, &flow, "000000").await;
        }
    }
    let flow = attacker.init(&app).await;
    let flow = attacker.send_code(&app, &flow, email).await.body;
    let r = attacker.use_code(&app, &flow, "000000").await;
    assert_eq!(r.status, 429, "the attacker's budget is spent: {r:?}");

    let owner = vs::Client {
        kind: Kind::Api,
        http: client_from(Kind::Api, "198.51.100.7").http,
    };
    let flow = owner.init(&app).await;
    let flow = owner.send_code(&app, &flow, email).await.body;
    let code = vs::wait_messages(&app, email, 4).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = owner.use_code(&app, &flow, &code).await;
    assert_eq!(r.body["state"], "passed_challenge", "{r:?}");
    vs::assert_verified(&app, &identity).await;
}
