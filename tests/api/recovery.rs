//! Account recovery by code, for a browser (form posts, 303s), a single-page app and a
//! native app, on SQLite and (with `TEST_DATABASE_URL`) Postgres: the happy path to a new
//! password, the Kratos matrix (wrong, reused, expired code, expired flow, too many
//! attempts, resend, unknown address answered alike, CSRF), and the squatter's lock-out.

use serde_json::json;

use crate::auth_support::{FlowClient, PASSWORD};
use crate::helpers::{TestApp, spawn_postgres_with, spawn_with};
use crate::recovery_support::*;
use crate::verification_support::{
    KINDS, Kind, inbox, kind_address, message_ids, node, nodes, wait_messages,
};

const NEW_PASSWORD: &str = "a brand new passphrase for recovery";

async fn happy_path(app: &TestApp) {
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let email = kind_address(kind, "recover");
        let id = identity_with_password(app, &email).await;
        // Another device is signed in with the old password... once the address is
        // verified; here it is not, so recovery treats the account as never proven.
        let (flow, reply) = code_sent(app, &c, &email).await;
        assert!(matches!(reply.status, 200 | 303), "{reply:?}");
        assert_eq!(flow["state"], "sent_email", "{flow}");
        assert_eq!(flow["active"], "code");
        assert_eq!(message_ids(&flow), [1060003]);
        let code_node = node(&flow, "code").expect("code node");
        assert_eq!(code_node["attributes"]["autocomplete"], "one-time-code");
        assert_eq!(code_node["meta"]["label"]["id"], 1070010);
        let message = &wait_messages(app, &email, 1).await[0];
        assert_eq!(message["template_type"], "recovery_code_valid", "{message}");
        let code = message["code"].as_str().unwrap().to_owned();

        let reply = submit_code(app, &c, &flow, &code).await;
        let (settings_id, token) = finished(app, kind, &reply);
        let settings = settings_flow(app, &c, &settings_id, token.as_deref()).await;
        let address = &identity(app, &id).await["verifiable_addresses"][0];
        assert_eq!(address["verified"], true, "recovery verifies the address");

        let mut body = json!({"method": "password", "password": NEW_PASSWORD});
        if kind != Kind::Api {
            body["csrf_token"] = json!(crate::verification_support::csrf_of(&settings).unwrap());
        }
        let r = c
            .submit_with(app, "settings", &settings, body, token.as_deref())
            .await;
        assert!(matches!(r.status, 200 | 303), "new password saved: {r:?}");
        assert!(password_works(app, &email, NEW_PASSWORD).await);
        assert!(!password_works(app, &email, PASSWORD).await);
    }
}

#[tokio::test]
async fn recovery_by_code_leads_to_a_new_password_for_every_client() {
    happy_path(&spawn_with(|_| {}).await).await;
}

#[tokio::test]
async fn recovery_by_code_on_postgres() {
    let Some(app) = spawn_postgres_with(|_| {}).await else {
        return;
    };
    happy_path(&app).await;
    matrix(&app).await;
}

async fn matrix(app: &TestApp) {
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let email = kind_address(kind, "matrix");
        identity_with_password(app, &email).await;

        // Wrong code: the same flow, 4060006.
        let (flow, _) = code_sent(app, &c, &email).await;
        let reply = submit_code(app, &c, &flow, "000000").await;
        let wrong = after(app, &c, &reply).await;
        assert_eq!(wrong["id"], flow["id"]);
        assert_eq!(message_ids(&wrong), [4060006], "{wrong}");

        // Resend: a new code, the old one no longer works.
        let old = newest_code(app, &email, 1).await;
        let reply = c
            .submit(
                app,
                "recovery",
                &wrong,
                json!({"method": "code", "email": email}),
            )
            .await;
        let resent = after(app, &c, &reply).await;
        assert_eq!(resent["id"], flow["id"]);
        let new = newest_code(app, &email, 2).await;
        assert_ne!(old, new);
        let reply = submit_code(app, &c, &resent, &old).await;
        assert_eq!(message_ids(&after(app, &c, &reply).await), [4060006]);

        // Right code, then the same code again: a new flow saying it was done.
        let reply = submit_code(app, &c, &resent, &new).await;
        finished(app, kind, &reply);
        let again = FlowClient {
            kind,
            http: c.http.clone(),
        };
        let reply = submit_code(app, &again, &resent, &new).await;
        if kind == Kind::Browser {
            assert_eq!(reply.status, 303, "{reply:?}");
        } else {
            assert_eq!(reply.status, 410, "{reply:?}");
            assert_eq!(reply.error_id(), Some("self_service_flow_replaced"));
        }
    }
}

#[tokio::test]
async fn the_kratos_matrix_on_sqlite() {
    matrix(&spawn_with(|_| {}).await).await;
}

#[tokio::test]
async fn too_many_attempts_replace_the_flow() {
    let app = spawn_with(|_| {}).await;
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let email = kind_address(kind, "attempts");
        identity_with_password(&app, &email).await;
        let (flow, _) = code_sent(&app, &c, &email).await;
        let code = newest_code(&app, &email, 1).await;
        for _ in 0..5 {
            let r = submit_code(&app, &c, &flow, "999999").await;
            assert!(matches!(r.status, 200 | 303), "{r:?}");
        }
        let reply = submit_code(&app, &c, &flow, &code).await;
        let new = after(&app, &c, &reply).await;
        assert_ne!(
            new["id"], flow["id"],
            "the right code is refused after the cap"
        );
        assert_eq!(new["state"], "choose_method");
    }
}

#[tokio::test]
async fn expired_codes_and_flows_start_again() {
    let app = spawn_with(|s| {
        s.selfservice.methods.code.config.lifespan = "1s".parse().unwrap();
    })
    .await;
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let email = kind_address(kind, "expired");
        identity_with_password(&app, &email).await;
        let (flow, _) = code_sent(&app, &c, &email).await;
        let code = newest_code(&app, &email, 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let reply = submit_code(&app, &c, &flow, &code).await;
        if kind != Kind::Browser {
            assert_eq!(reply.status, 410, "{reply:?}");
            assert_eq!(reply.error_id(), Some("self_service_flow_expired"));
        }
        let new = after(&app, &c, &reply).await;
        assert_ne!(new["id"], flow["id"]);
        assert_eq!(message_ids(&new), [4060005], "{new}");
    }
    let app = spawn_with(|s| {
        s.selfservice.flows.recovery.lifespan = "1s".parse().unwrap();
    })
    .await;
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let flow = c.init(&app, "recovery").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let reply = c
            .submit(
                &app,
                "recovery",
                &flow,
                json!({"method": "code", "email": "x@example.com"}),
            )
            .await;
        let new = after(&app, &c, &reply).await;
        assert_ne!(new["id"], flow["id"]);
        assert_eq!(message_ids(&new), [4060005], "{new}");
    }
}

#[tokio::test]
async fn an_unknown_address_is_answered_alike() {
    let app = spawn_with(|_| {}).await;
    for kind in KINDS {
        let known = kind_address(kind, "known");
        let unknown = kind_address(kind, "unknown");
        identity_with_password(&app, &known).await;
        let (a, ra) = code_sent(&app, &FlowClient::new(kind), &known).await;
        let (b, rb) = code_sent(&app, &FlowClient::new(kind), &unknown).await;
        assert_eq!(ra.status, rb.status);
        assert_eq!(ra.cookie_names(), rb.cookie_names());
        let shape = |f: &serde_json::Value| {
            nodes(f)
                .iter()
                .map(|n| {
                    (
                        n["attributes"]["name"].clone(),
                        n["attributes"]["type"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&a), shape(&b));
        assert_eq!(a["state"], b["state"]);
        assert_eq!(message_ids(&a), message_ids(&b));
        assert!(inbox(&app, &unknown).await.is_empty(), "nothing sent");
        let r = submit_code(&app, &FlowClient::new(kind), &b, "123456").await;
        assert_ne!(r.status, 500);
    }
    let app = spawn_with(|s| s.selfservice.flows.recovery.notify_unknown_recipients = true).await;
    let (_, _) = code_sent(&app, &FlowClient::new(Kind::Api), "nobody@example.com").await;
    let m = &wait_messages(&app, "nobody@example.com", 1).await[0];
    assert_eq!(m["template_type"], "recovery_code_invalid", "{m}");
}

#[tokio::test]
async fn a_browser_code_post_without_csrf_is_refused() {
    let app = spawn_with(|_| {}).await;
    let email = "csrf-recovery@example.com";
    identity_with_password(&app, email).await;
    let c = FlowClient::new(Kind::Spa);
    let (flow, _) = code_sent(&app, &c, email).await;
    let code = newest_code(&app, email, 1).await;
    let other = crate::verification_support::jar();
    let resp = other
        .post(format!(
            "{}/self-service/recovery?flow={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .header("Accept", "application/json")
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap();
    let r = crate::verification_support::Reply::read(resp).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.error_id(), Some("security_csrf_violation"));
    // The attempt was not spent: the right code still works from the right browser.
    let reply = submit_code(&app, &c, &flow, &code).await;
    finished(&app, Kind::Spa, &reply);
}

#[tokio::test]
async fn recovering_an_account_that_never_proved_its_address_locks_the_squatter_out() {
    let app = spawn_with(|_| {}).await;
    let email = "squatted@example.com";
    // The squatter signs up with someone else's address and keeps a session.
    let body = crate::auth_support::register(&app, email).await;
    let squatter = FlowClient::new(Kind::Api);
    let id = body["identity"]["id"].as_str().unwrap().to_owned();
    let issued = app.registry.sessions.issue(
        uuid::Uuid::parse_str(&id).unwrap(),
        "password",
        None,
        Default::default(),
        chrono::Utc::now(),
    );
    app.registry.sessions.persist(&issued, None).await.unwrap();
    let token = issued.token.expose().to_owned();
    assert_eq!(squatter.whoami(&app, Some(&token)).await.status, 200);

    // The owner recovers through the address.
    let owner = FlowClient::new(Kind::Api);
    let (flow, _) = code_sent(&app, &owner, email).await;
    let code = wait_messages(&app, email, 2).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = submit_code(&app, &owner, &flow, &code).await;
    let (_, owner_token) = finished(&app, Kind::Api, &reply);
    assert_eq!(squatter.whoami(&app, Some(&token)).await.status, 401);
    assert_eq!(owner.whoami(&app, owner_token.as_deref()).await.status, 200);
    assert!(
        !password_works(&app, email, PASSWORD).await,
        "the squatter's password is gone"
    );
    let i = json_of_credentials(&app, &id).await;
    assert!(i.get("password").is_none(), "{i}");
}

async fn json_of_credentials(app: &TestApp, id: &str) -> serde_json::Value {
    let i = crate::helpers::json_with_status(
        app.get_admin(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await,
        200,
    )
    .await;
    i["credentials"].clone()
}

#[tokio::test]
async fn a_signed_in_browser_has_nothing_to_recover_and_disabled_recovery_says_so() {
    let app = spawn_with(|s| s.selfservice.flows.recovery.enabled = Some(false)).await;
    let c = FlowClient::new(Kind::Api);
    let r = c.init_raw(&app, "recovery", "").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.error_id(), None);
    assert_eq!(
        r.body["error"]["reason"],
        "Recovery is not allowed because it was disabled."
    );
}
