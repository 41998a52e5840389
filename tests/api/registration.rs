//! Registration through browser, SPA and api clients; the password policy; the hooks;
//! the enumeration-safe answer for a taken address.

use serde_json::json;

use crate::auth_support::{FlowClient, PASSWORD, register, sign_up};
use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::{KINDS, Kind, inbox, node_message_ids, wait_messages};

#[tokio::test]
async fn each_client_kind_signs_up_and_gets_a_code_for_its_address() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let flow = c.init(&app, "registration").await;
        assert_eq!(flow["type"], kind.flow_type());
        assert_eq!(flow["state"], "choose_method");
        let names: Vec<_> = flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["attributes"]["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            names.contains(&"traits.email".to_owned()) && names.contains(&"password".to_owned()),
            "{names:?}"
        );
        let email = format!("new-{kind:?}@example.com").to_lowercase();
        let r = c
            .submit(&app, "registration", &flow, sign_up(&email, PASSWORD))
            .await;
        let messages = wait_messages(&app, &email, 1).await;
        assert!(
            messages[0]["code"].as_str().is_some_and(|c| c.len() == 6),
            "a code was sent"
        );
        match kind {
            Kind::Browser => {
                assert_eq!(r.status, 303);
                let location = r.location().unwrap();
                assert!(
                    location.contains("/ui/verification?flow="),
                    "show_verification_ui sends the browser to the code form: {location}"
                );
            }
            _ => {
                assert_eq!(r.status, 200, "{r:?}");
                assert_eq!(r.body["identity"]["traits"]["email"], email);
                assert_eq!(
                    r.body["identity"]["verifiable_addresses"][0]["status"],
                    "sent"
                );
                assert_eq!(r.body["identity"]["verified"], false);
                let item = &r.body["continue_with"][0];
                assert_eq!(item["action"], "show_verification_ui");
                assert_eq!(item["flow"]["verifiable_address"], email);
                assert!(
                    r.body.get("session").is_none(),
                    "the default hooks do not sign in"
                );
                assert_eq!(
                    item["flow"].get("url").is_some(),
                    kind == Kind::Spa,
                    "only browser flows carry a UI url"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_password_policy_answers_with_kratos_ids_before_hashing() {
    let app = spawn_app().await;
    let c = FlowClient::new(Kind::Api);
    let cases: [(&str, &str, u64); 4] = [
        ("short@example.com", "short", 4000032),
        ("common@example.com", "password123", 4000034),
        ("similar.person@example.com", "similar.person", 4000031),
        ("long@example.com", &"x".repeat(1025), 4000033),
    ];
    for (email, password, id) in cases {
        let flow = c.init(&app, "registration").await;
        let r = c
            .submit(&app, "registration", &flow, sign_up(email, password))
            .await;
        assert_eq!(r.status, 400, "{email}: {r:?}");
        assert_eq!(node_message_ids(&r.body, "password"), [id], "{email}");
        assert_eq!(
            r.body["ui"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["attributes"]["name"] == "traits.email")
                .unwrap()["attributes"]["value"],
            email,
            "the form keeps what was typed"
        );
    }
    let ids = app.store().list_identities(None, 10, None).await.unwrap();
    assert!(ids.identities.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn schema_errors_land_on_their_fields() {
    let app = spawn_app().await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "registration").await;
    let r = c
        .submit(
            &app,
            "registration",
            &flow,
            json!({"method": "password", "password": PASSWORD, "traits": {}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(node_message_ids(&r.body, "traits.email"), [4000002]);
    let r = c
        .submit(
            &app,
            "registration",
            &flow,
            sign_up("not-an-email", PASSWORD),
        )
        .await;
    assert_eq!(node_message_ids(&r.body, "traits.email"), [4000040]);
    let r = c
        .submit(&app, "registration", &flow, json!({"method": "nope"}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4010003);
}

#[tokio::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_a_notice() {
    let app = spawn_app().await;
    let first = register(&app, "taken@example.com").await;
    let second = register(&app, "taken@example.com").await;
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for p in [
            "/identity/id",
            "/identity/created_at",
            "/identity/updated_at",
            "/identity/verifiable_addresses/0/id",
            "/identity/verifiable_addresses/0/created_at",
            "/identity/verifiable_addresses/0/updated_at",
            "/identity/recovery_addresses/0/id",
            "/identity/recovery_addresses/0/created_at",
            "/identity/recovery_addresses/0/updated_at",
            "/continue_with/0/flow/id",
        ] {
            if let Some(x) = v.pointer_mut(p) {
                *x = json!("-");
            }
        }
        v
    };
    assert_eq!(strip(&first), strip(&second), "same shape, same statuses");
    let messages = wait_messages(&app, "taken@example.com", 2).await;
    assert!(
        messages[0]["subject"]
            .as_str()
            .unwrap()
            .contains("tried to sign up"),
        "{:?}",
        messages[0]
    );
    assert!(messages[0]["code"].is_null(), "the notice carries no code");
    let all = app.store().list_identities(None, 10, None).await.unwrap();
    assert_eq!(all.identities.len(), 1);
    let body = serde_json::to_string(&second).unwrap();
    assert!(!body.contains("exists"), "nothing says the account exists");
}

#[tokio::test]
async fn with_the_session_hook_sign_up_signs_in_and_a_duplicate_is_an_error() {
    let app = spawn_with(|s| {
        s.selfservice.flows.registration.after.password = Some(verity::config::MethodAfter {
            default_browser_return_url: None,
            hooks: vec![
                verity::config::HookConfig {
                    hook: "show_verification_ui".into(),
                    config: None,
                },
                verity::config::HookConfig {
                    hook: "session".into(),
                    config: None,
                },
            ],
        });
    })
    .await;
    let c = FlowClient::new(Kind::Api);
    let body = register(&app, "signed-in@example.com").await;
    let token = body["session_token"]
        .as_str()
        .expect("api flows get a token");
    assert!(token.starts_with("ory_st_"));
    assert_eq!(body["session"]["identity"]["id"], body["identity"]["id"]);
    let actions: Vec<_> = body["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].clone())
        .collect();
    assert_eq!(
        actions,
        [
            json!("show_verification_ui"),
            json!("set_ory_session_token")
        ]
    );
    let me = c.whoami(&app, Some(token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.body["identity"]["traits"]["email"],
        "signed-in@example.com"
    );

    let flow = c.init(&app, "registration").await;
    let r = c
        .submit(
            &app,
            "registration",
            &flow,
            sign_up("signed-in@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4000007);

    // A browser gets the session cookie with the expected flags.
    let b = FlowClient::new(Kind::Spa);
    let flow = b.init(&app, "registration").await;
    let r = b
        .submit(
            &app,
            "registration",
            &flow,
            sign_up("cookie@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.get("session_token").is_none(),
        "browser flows get a cookie, not a token"
    );
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ory_kratos_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "not Secure under --dev: {cookie}"
    );
    assert_eq!(b.whoami(&app, None).await.status, 200);
}

#[tokio::test]
async fn a_hundred_concurrent_sign_ups_of_one_address_make_one_identity() {
    // Per-IP limits would turn most of these away before they race; this test is about the race.
    let app = spawn_with(|s| s.selfservice.rate_limits.enabled = false).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let public = app.public.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let flow: serde_json::Value = http
                .get(format!("{public}/self-service/registration/api"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            http.post(format!(
                "{public}/self-service/registration?flow={}",
                flow["id"].as_str().unwrap()
            ))
            .header("Accept", "application/json")
            .json(&sign_up("race@example.com", PASSWORD))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503 || *s == 429),
        "{statuses:?}"
    );
    let all = app.store().list_identities(None, 10, None).await.unwrap();
    assert_eq!(all.identities.len(), 1);
    assert!(
        inbox(&app, "race@example.com")
            .await
            .iter()
            .filter(|m| !m["code"].is_null())
            .count()
            <= 1,
        "one code at most"
    );
}

#[tokio::test]
async fn browser_submissions_need_the_csrf_token_and_expired_flows_are_replaced() {
    let app = spawn_app().await;
    let b = FlowClient::new(Kind::Spa);
    let flow = b.init(&app, "registration").await;
    let url = format!(
        "{}/self-service/registration?flow={}",
        app.public,
        flow["id"].as_str().unwrap()
    );
    let r = b
        .http
        .post(&url)
        .header("Accept", "application/json")
        .json(&sign_up("csrf@example.com", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["id"], "security_csrf_violation");

    let app = spawn_with(|s| {
        s.selfservice.flows.registration.lifespan = verity::config::GoDuration::from_secs(0)
    })
    .await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "registration").await;
    let r = c
        .submit(
            &app,
            "registration",
            &flow,
            sign_up("late@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body["error"]["id"], "self_service_flow_expired");
    assert!(
        r.body["use_flow_id"]
            .as_str()
            .is_some_and(|id| id != flow["id"])
    );
}

#[tokio::test]
async fn an_external_ui_url_receives_the_browsers() {
    let app = spawn_with(|s| {
        s.selfservice.flows.registration.ui_url = Some("https://app.example.com/signup".into());
        s.selfservice.flows.login.ui_url = Some("https://app.example.com/signin".into());
    })
    .await;
    for (flow, ui) in [
        ("registration", "https://app.example.com/signup?flow="),
        ("login", "https://app.example.com/signin?flow="),
    ] {
        let r = FlowClient::new(Kind::Browser)
            .init_raw(&app, flow, "")
            .await;
        assert_eq!(r.status, 303);
        assert!(r.location().unwrap().starts_with(ui), "{:?}", r.location());
    }
}

#[tokio::test]
async fn a_form_field_nested_thousands_deep_is_ignored() {
    let app = spawn_app().await;
    let c = FlowClient::new(Kind::Browser);
    let flow = c.init(&app, "registration").await;
    let deep = format!("traits.{}", vec!["a"; 3000].join("."));
    let r = c
        .submit(
            &app,
            "registration",
            &flow,
            json!({"method": "password", "password": PASSWORD, deep: "x"}),
        )
        .await;
    assert_eq!(r.status, 303, "a form error, shown on the page: {r:?}");
    let alive = app
        .http
        .get(format!("{}/health/alive", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200, "the server is still up");
}

#[tokio::test]
async fn repeated_sign_ups_with_one_address_cannot_flood_its_inbox() {
    let app =
        spawn_with(|s| s.selfservice.rate_limits.verification_sends_per_address_10m = 3).await;
    let c = FlowClient::new(Kind::Api);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let flow = c.init(&app, "registration").await;
        let r = c
            .submit(
                &app,
                "registration",
                &flow,
                sign_up("flood@example.com", PASSWORD),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    let messages = wait_messages(&app, "flood@example.com", 3).await;
    assert_eq!(messages.len(), 3, "one code and two notices, then nothing");
    // The limit is keyed by the submitted address, so an unknown one is limited alike.
    let mut fresh = Vec::new();
    for i in 0..4 {
        let flow = c.init(&app, "registration").await;
        let r = c
            .submit(
                &app,
                "registration",
                &flow,
                sign_up("other@example.com", &format!("{PASSWORD} {i}")),
            )
            .await;
        fresh.push(r.status);
    }
    assert_eq!(fresh, [200, 200, 200, 429]);
}

/// Signs up `email` with `password` through the api flow; the answer's status.
async fn sign_up_with(app: &crate::helpers::TestApp, email: &str, password: &str) -> u16 {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "registration").await;
    let r = c
        .submit(app, "registration", &flow, sign_up(email, password))
        .await;
    r.status
}

/// The message ids of a password sign-in of `email`.
async fn sign_in_ids(app: &crate::helpers::TestApp, email: &str, password: &str) -> String {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "login").await;
    let r = c
        .submit(
            app,
            "login",
            &flow,
            crate::auth_support::sign_in(email, password),
        )
        .await;
    format!(
        "{} {}",
        r.status,
        r.body["error"]["id"].as_str().unwrap_or("")
    )
}

#[tokio::test]
async fn a_squatter_past_the_unverified_lifespan_gives_way_to_the_owners_sign_up() {
    const SQUATTER: &str = "squatter's password 1234";
    const OWNER: &str = "the owner's own password 5678";
    let app = spawn_with(|s| {
        s.identity.unverified_lifespan = Some(verity::config::GoDuration::from_secs(0));
    })
    .await;
    assert_eq!(
        sign_up_with(&app, "victim@example.com", SQUATTER).await,
        200
    );
    // The squatter never verifies; the owner signs up with the same address.
    assert_eq!(sign_up_with(&app, "victim@example.com", OWNER).await, 200);
    let all = app.store().list_identities(None, 10, None).await.unwrap();
    assert_eq!(all.identities.len(), 1, "one identity holds the address");
    assert_eq!(
        sign_in_ids(&app, "victim@example.com", SQUATTER).await,
        "400 ",
        "the squatter's password stops working"
    );
    assert_eq!(
        sign_in_ids(&app, "victim@example.com", OWNER).await,
        "403 session_verified_address_required",
        "the owner's account waits for its code"
    );
    let messages = wait_messages(&app, "victim@example.com", 2).await;
    assert!(
        messages.iter().all(|m| !m["code"].is_null()),
        "each sign-up got its code, no duplicate notice: {messages:?}"
    );
}

#[tokio::test]
async fn without_the_unverified_lifespan_a_never_verified_identity_keeps_its_address() {
    const FIRST: &str = "first password of the two 1234";
    let app = spawn_app().await;
    assert_eq!(sign_up_with(&app, "kept@example.com", FIRST).await, 200);
    assert_eq!(
        sign_up_with(&app, "kept@example.com", "second password 5678").await,
        200
    );
    assert_eq!(
        sign_in_ids(&app, "kept@example.com", FIRST).await,
        "403 session_verified_address_required"
    );
}
