//! Login through browser, SPA and api clients: the password method, generic errors, dummy
//! hashing, throttling, refresh, session fixation and `require_verified_address`.

use serde_json::json;

use crate::auth_support::{
    FlowClient, PASSWORD, login_token, register, register_verified, sign_in,
};
use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::{KINDS, Kind, wait_messages};

fn without_login_hooks(s: &mut verity::config::Settings) {
    s.selfservice.flows.login.after = verity::config::AfterConfig::default();
}

#[tokio::test]
async fn a_verified_identity_logs_in_with_each_client_kind() {
    let app = spawn_app().await;
    register_verified(&app, "ada@example.com").await;
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let flow = c.init(&app, "login").await;
        assert_eq!(flow["state"], "choose_method");
        assert_eq!(flow["refresh"], false);
        let r = c
            .submit(&app, "login", &flow, sign_in(" ADA@example.com ", PASSWORD))
            .await;
        match kind {
            Kind::Browser => {
                assert_eq!(r.status, 303, "{r:?}");
                assert!(
                    r.location().unwrap().ends_with("/ui/"),
                    "to the default return URL"
                );
                assert!(r.cookie_names().contains(&"ory_kratos_session".to_owned()));
                assert_eq!(
                    c.whoami(&app, None).await.status,
                    200,
                    "the cookie is a session"
                );
            }
            Kind::Spa => {
                assert_eq!(r.status, 200);
                assert!(r.body.get("session_token").is_none());
                assert_eq!(
                    r.body["session"]["identity"]["traits"]["email"],
                    "ada@example.com"
                );
                assert_eq!(c.whoami(&app, None).await.status, 200);
            }
            Kind::Api => {
                assert_eq!(r.status, 200);
                let token = r.body["session_token"].as_str().unwrap();
                assert!(token.starts_with("ory_st_") && token.len() >= 7 + 43);
                assert_eq!(
                    r.body["session"]["authentication_methods"][0]["method"],
                    "password"
                );
                assert_eq!(
                    r.body["continue_with"][0]["action"],
                    "set_ory_session_token"
                );
                let me = c.whoami(&app, Some(token)).await;
                assert_eq!(me.status, 200);
                assert_eq!(me.body["identity"]["verified"], true);
                assert!(
                    me.headers
                        .get("x-kratos-authenticated-identity-id")
                        .is_some()
                );
                let bearer = app
                    .http
                    .get(format!("{}/sessions/whoami", app.public))
                    .header("Authorization", format!("Bearer {token}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(bearer.status(), 200, "Authorization: Bearer works too");
            }
        }
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_identifier_get_the_same_generic_error() {
    let app = spawn_with(without_login_hooks).await;
    register(&app, "known@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let mut bodies = Vec::new();
    for (who, password) in [
        ("known@example.com", "wrong password here"),
        ("nobody@example.com", PASSWORD),
    ] {
        let flow = c.init(&app, "login").await;
        let r = c.submit(&app, "login", &flow, sign_in(who, password)).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["ui"]["messages"][0]["id"], 4000006);
        let mut ui = r.body["ui"].clone();
        ui["action"] = json!("-");
        for n in ui["nodes"].as_array_mut().unwrap() {
            if n["attributes"]["name"] == "identifier" {
                n["attributes"]["value"] = json!("-");
            }
        }
        bodies.push(ui);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn known_and_unknown_identifiers_take_about_the_same_time() {
    let app = spawn_with(|s| {
        without_login_hooks(s);
        s.selfservice.rate_limits.enabled = false;
    })
    .await;
    register(&app, "timing@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..40 {
        for (who, out) in [
            ("timing@example.com", &mut known),
            ("ghost@example.com", &mut unknown),
        ] {
            let flow = c.init(&app, "login").await;
            let start = std::time::Instant::now();
            let r = c
                .submit(
                    &app,
                    "login",
                    &flow,
                    sign_in(who, &format!("wrong password {i}")),
                )
                .await;
            out.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 400);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    // Both paths run one argon2 verification (a dummy hash for the unknown identifier).
    assert!((k - u).abs() < 5.0, "known {k:.2} ms vs unknown {u:.2} ms");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let app = spawn_with(|s| {
        without_login_hooks(s);
        s.selfservice.rate_limits.login_failures_per_account_15m = 3;
    })
    .await;
    register(&app, "target@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let flow = c.init(&app, "login").await;
        statuses.push(
            c.submit(
                &app,
                "login",
                &flow,
                sign_in("Target@example.com", "not the password"),
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429]);
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("target@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 429, "the right password waits too");
    assert!(r.headers.get("retry-after").is_some());
    // An unknown account is throttled alike.
    for _ in 0..3 {
        let flow = c.init(&app, "login").await;
        c.submit(&app, "login", &flow, sign_in("ghost@example.com", "x"))
            .await;
    }
    let flow = c.init(&app, "login").await;
    assert_eq!(
        c.submit(&app, "login", &flow, sign_in("ghost@example.com", "x"))
            .await
            .status,
        429
    );
}

#[tokio::test]
async fn an_unverified_identity_gets_a_verification_flow_instead_of_a_session() {
    let app = spawn_app().await;
    register(&app, "unverified@example.com").await;
    wait_messages(&app, "unverified@example.com", 1).await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("unverified@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["id"], "session_verified_address_required");
    assert_eq!(r.body["error"]["code"], 400);
    let item = &r.body["error"]["details"]["continue_with"][0];
    assert_eq!(item["action"], "show_verification_ui");
    assert!(
        item["flow"]["url"]
            .as_str()
            .unwrap()
            .contains("/ui/verification?flow=")
    );
    assert!(r.body.get("session_token").is_none());
    // The code sign-up sent still waits, so the sign-in points at its flow and sends nothing
    // (it used to mail a fresh code on every sign-in, without the send limits).
    let flow_of = |r: &crate::verification_support::Reply| {
        r.body["error"]["details"]["continue_with"][0]["flow"]["id"].clone()
    };
    let first = flow_of(&r);
    let flow = c.init(&app, "login").await;
    let again = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("unverified@example.com", PASSWORD),
        )
        .await;
    assert_eq!(flow_of(&again), first, "the waiting flow is reused");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        crate::verification_support::inbox(&app, "unverified@example.com")
            .await
            .len(),
        1,
        "no second code while the first one is valid"
    );

    let b = FlowClient::new(Kind::Browser);
    let flow = b.init(&app, "login").await;
    let r = b
        .submit(
            &app,
            "login",
            &flow,
            sign_in("unverified@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location().unwrap().contains("/ui/verification?flow="));
    assert!(!r.cookie_names().contains(&"ory_kratos_session".to_owned()));

    // A wrong password says nothing about verification.
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("unverified@example.com", "wrong wrong wrong"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4000006);
}

#[tokio::test]
async fn the_legacy_flag_answers_with_a_form_error() {
    let app = spawn_with(|s| s.feature_flags.legacy_require_verified_login_error = true).await;
    register(&app, "legacy@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("legacy@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4000010);
}

#[tokio::test]
async fn an_identity_without_verifiable_addresses_is_a_configuration_error() {
    let app = spawn_with(|s| {
        s.identity.schemas.push(verity::config::SchemaSource {
            id: "operator".into(),
            url: format!(
                "file://{}/tests/schemas/username-only.schema.json",
                env!("CARGO_MANIFEST_DIR")
            ),
        })
    })
    .await;
    let created = app
        .post_admin("/admin/identities", &json!({"schema_id": "operator", "traits": {"username": "operator"}, "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .await;
    assert_eq!(created.status(), 201);
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(&app, "login", &flow, sign_in("operator", PASSWORD))
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body["error"]["id"], "invalid_configuration");
    assert!(
        r.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("verification address")
    );
}

#[tokio::test]
async fn every_login_makes_a_new_session_and_ends_the_old_one() {
    let app = spawn_app().await;
    register_verified(&app, "fixation@example.com").await;
    let b = FlowClient::new(Kind::Spa);
    let flow = b.init(&app, "login").await;
    let first = b
        .submit(
            &app,
            "login",
            &flow,
            sign_in("fixation@example.com", PASSWORD),
        )
        .await;
    let first_id = first.body["session"]["id"].as_str().unwrap().to_owned();
    // Signed in: a new login flow needs refresh.
    let again = b.init_raw(&app, "login", "").await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["error"]["id"], "session_already_available");
    let flow = b.init_with(&app, "login", "?refresh=true").await;
    assert_eq!(flow["refresh"], true);
    let second = b
        .submit(
            &app,
            "login",
            &flow,
            sign_in("fixation@example.com", PASSWORD),
        )
        .await;
    assert_eq!(second.status, 200);
    let second_id = second.body["session"]["id"].as_str().unwrap();
    assert_ne!(first_id, second_id, "a new session id on every login");
    let old = app
        .store()
        .get_session(first_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!old.active, "the replaced session is dead");
    assert_eq!(b.whoami(&app, None).await.body["id"], second_id);

    // A refresh flow only re-authenticates the signed-in identity.
    register_verified(&app, "other@example.com").await;
    let flow = b.init_with(&app, "login", "?refresh=true").await;
    let r = b
        .submit(&app, "login", &flow, sign_in("other@example.com", PASSWORD))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4000006);
    let _ = login_token(&app, "other@example.com").await;
}

#[tokio::test]
async fn one_login_flow_submitted_twice_at_once_makes_one_session() {
    let app = spawn_with(|s| s.selfservice.rate_limits.enabled = false).await;
    let id = register_verified(&app, "twice@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    let (a, b) = tokio::join!(
        c.submit(&app, "login", &flow, sign_in("twice@example.com", PASSWORD)),
        c.submit(&app, "login", &flow, sign_in("twice@example.com", PASSWORD)),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
    let loser = if a.status == 400 { &a } else { &b };
    assert_eq!(loser.body["ui"]["messages"][0]["id"], 4010007);
    let sessions = app
        .store()
        .list_sessions(id.parse().unwrap(), true)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
}
