//! The settings flow through browser, SPA and api clients: profile changes, a changed
//! email (verified again, the old address told), password changes, stale sessions.

use reqwest::header::ACCEPT;
use serde_json::{Value, json};

use crate::auth_support::{FlowClient, PASSWORD, login_token, register_verified, sign_in};
use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::verification_support::{
    KINDS, Kind, Reply, inbox, inbox_code, message_ids, node, wait_messages,
};

const NEW_PASSWORD: &str = "a different horse battery staple";

/// A client of `kind` signed in as `email` (browser and SPA by cookie, api by token).
async fn signed_in(app: &TestApp, kind: Kind, email: &str) -> (FlowClient, Option<String>) {
    let c = FlowClient::new(kind);
    if kind == Kind::Api {
        return (c, Some(login_token(app, email).await));
    }
    let flow = c.init(app, "login").await;
    let r = c
        .submit(app, "login", &flow, sign_in(email, PASSWORD))
        .await;
    assert!(r.status == 303 || r.status == 200, "browser login: {r:?}");
    (c, None)
}

async fn init_settings(app: &TestApp, c: &FlowClient, token: Option<&str>) -> Value {
    match token {
        None => c.init(app, "settings").await,
        Some(t) => {
            let resp = c
                .http
                .get(format!("{}/self-service/settings/api", app.public))
                .header(ACCEPT, "application/json")
                .header("X-Session-Token", t)
                .send()
                .await
                .unwrap();
            let reply = Reply::read(resp).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            reply.body
        }
    }
}

async fn submit(
    app: &TestApp,
    c: &FlowClient,
    token: Option<&str>,
    flow: &Value,
    body: Value,
) -> Reply {
    c.submit_with(app, "settings", flow, body, token).await
}

async fn admin_identity(app: &TestApp, id: &str) -> Value {
    let resp = app.get_admin(&format!("/admin/identities/{id}")).await;
    crate::helpers::json_with_status(resp, 200).await
}

#[tokio::test]
async fn each_client_kind_saves_a_name_without_a_fresh_login() {
    let app = spawn_with(|s| {
        // A name is not sensitive: an old session may change it.
        s.selfservice.flows.settings.privileged_session_max_age =
            Some(verity::config::GoDuration::from_secs(0));
    })
    .await;
    for kind in KINDS {
        let email = format!("name-{kind:?}@example.com").to_lowercase();
        let id = register_verified(&app, &email).await;
        let (c, token) = signed_in(&app, kind, &email).await;
        let flow = init_settings(&app, &c, token.as_deref()).await;
        assert_eq!(flow["type"], kind.flow_type());
        assert_eq!(flow["state"], "show_form");
        assert_eq!(flow["identity"]["id"], id);
        let email_node = node(&flow, "traits.email").expect("email input");
        assert_eq!(email_node["attributes"]["value"], email);
        assert_eq!(email_node["group"], "profile");
        assert_eq!(
            node(&flow, "password").unwrap()["attributes"]["autocomplete"],
            "new-password"
        );
        let body =
            json!({"method": "profile", "traits": {"email": email, "name": {"first": "Ada"}}});
        let r = submit(&app, &c, token.as_deref(), &flow, body).await;
        if kind == Kind::Browser {
            assert_eq!(r.status, 303, "{r:?}");
            assert!(
                r.location().unwrap().contains(&format!(
                    "/ui/settings?flow={}",
                    flow["id"].as_str().unwrap()
                )),
                "{r:?}"
            );
        } else {
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.body["state"], "success");
            assert_eq!(message_ids(&r.body), [1050001]);
            assert_eq!(r.body["identity"]["traits"]["name"]["first"], "Ada");
            assert!(
                r.body.get("continue_with").is_none(),
                "nothing to verify: {r:?}"
            );
        }
        let stored = admin_identity(&app, &id).await;
        assert_eq!(stored["traits"]["name"]["first"], "Ada", "{kind:?}");
        assert_eq!(
            stored["verifiable_addresses"][0]["verified"], true,
            "the address stays verified"
        );
        // The flow can be used again after success.
        if kind != Kind::Browser {
            let again = json!({"method": "profile", "traits": {"email": email, "name": {"first": "Grace"}}});
            let r = submit(&app, &c, token.as_deref(), &r.body, again).await;
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.body["identity"]["traits"]["name"]["first"], "Grace");
        }
    }
}

#[tokio::test]
async fn without_a_session_browsers_log_in_and_json_clients_get_401() {
    let app = spawn_app().await;
    let c = FlowClient::new(Kind::Browser);
    let r = c.init_raw(&app, "settings", "").await;
    assert_eq!(r.status, 303);
    let location = r.location().unwrap();
    assert!(
        location.contains("/self-service/login/browser?return_to="),
        "{location}"
    );
    for kind in [Kind::Spa, Kind::Api] {
        let r = FlowClient::new(kind).init_raw(&app, "settings", "").await;
        assert_eq!(r.status, 401, "{kind:?}: {r:?}");
        assert_eq!(r.error_id(), Some("session_inactive"));
    }
    // A form posted after the session ended returns, after login, to the flow's page (the
    // POST-only submit URL would be a dead end).
    let id = uuid::Uuid::new_v4();
    let r = c
        .http
        .post(format!("{}/self-service/settings?flow={id}", app.public))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("method=profile")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    let back = format!(
        "return_to={}",
        crate::verification_support::enc(&format!("{}/ui/settings?flow={id}", app.public))
    );
    assert!(location.contains(&back), "{location}");
}

#[tokio::test]
async fn another_identitys_flow_is_refused() {
    let app = spawn_app().await;
    register_verified(&app, "owner@example.com").await;
    register_verified(&app, "other@example.com").await;
    let owner = login_token(&app, "owner@example.com").await;
    let other = login_token(&app, "other@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = init_settings(&app, &c, Some(&owner)).await;
    let body = json!({"method": "profile", "traits": {"email": "owner@example.com", "name": {"first": "Eve"}}});
    let r = submit(&app, &c, Some(&other), &flow, body.clone()).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.error_id(), Some("security_identity_mismatch"));
    let resp = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .header(ACCEPT, "application/json")
        .header("X-Session-Token", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let r = submit(&app, &c, None, &flow, body).await;
    assert_eq!(r.status, 401, "no session: {r:?}");
}

#[tokio::test]
async fn invalid_traits_come_back_on_their_nodes() {
    let app = spawn_app().await;
    register_verified(&app, "typo@example.com").await;
    let token = login_token(&app, "typo@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = init_settings(&app, &c, Some(&token)).await;
    let r = submit(
        &app,
        &c,
        Some(&token),
        &flow,
        json!({"method": "profile", "traits": {"email": "not-an-email"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        crate::verification_support::node_message_ids(&r.body, "traits.email"),
        [4000040]
    );
    let r = submit(&app, &c, Some(&token), &flow, json!({"method": "nope"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(message_ids(&r.body), [4010004]);
}

#[tokio::test]
async fn a_new_email_is_verified_again_and_the_old_one_is_told() {
    let app = spawn_app().await;
    let id = register_verified(&app, "old@example.com").await;
    let token = login_token(&app, "old@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = init_settings(&app, &c, Some(&token)).await;
    let r = submit(
        &app,
        &c,
        Some(&token),
        &flow,
        json!({"method": "profile", "traits": {"email": "new@example.com"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let address = &r.body["identity"]["verifiable_addresses"][0];
    assert_eq!(address["value"], "new@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(address["status"], "sent");
    let item = &r.body["continue_with"][0];
    assert_eq!(item["action"], "show_verification_ui");
    assert_eq!(item["flow"]["verifiable_address"], "new@example.com");
    let old = wait_messages(&app, "old@example.com", 2).await;
    assert_eq!(
        old[0]["template_type"], "verifiable_address_changed",
        "{old:?}"
    );
    assert!(old[0]["code"].is_null(), "no code goes to the old address");
    let code = inbox_code(&app, "new@example.com").await;
    let vflow = item["flow"]["id"].as_str().unwrap();
    let resp = app
        .http
        .post(format!(
            "{}/self-service/verification?flow={vflow}",
            app.public
        ))
        .header(ACCEPT, "application/json")
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap();
    let reply = Reply::read(resp).await;
    assert_eq!(reply.body["state"], "passed_challenge", "{reply:?}");
    let stored = admin_identity(&app, &id).await;
    assert_eq!(
        stored["verifiable_addresses"][0]["value"],
        "new@example.com"
    );
    assert_eq!(stored["verifiable_addresses"][0]["verified"], true);
    assert_eq!(inbox(&app, "new@example.com").await.len(), 1);
}

#[tokio::test]
async fn a_browser_changing_its_email_goes_to_the_code_form() {
    let app = spawn_app().await;
    register_verified(&app, "b-old@example.com").await;
    let (c, _) = signed_in(&app, Kind::Browser, "b-old@example.com").await;
    let flow = init_settings(&app, &c, None).await;
    let r = submit(
        &app,
        &c,
        None,
        &flow,
        json!({"method": "profile", "traits": {"email": "b-new@example.com"}}),
    )
    .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        r.location().unwrap().contains("/ui/verification?flow="),
        "{r:?}"
    );
    wait_messages(&app, "b-new@example.com", 1).await;
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    register_verified(&app, "pw@example.com").await;
    let mine = login_token(&app, "pw@example.com").await;
    let other = login_token(&app, "pw@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = init_settings(&app, &c, Some(&mine)).await;
    let r = submit(
        &app,
        &c,
        Some(&mine),
        &flow,
        json!({"method": "password", "password": "short"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        crate::verification_support::node_message_ids(&r.body, "password"),
        [4000032]
    );
    let r = submit(
        &app,
        &c,
        Some(&mine),
        &flow,
        json!({"method": "password", "password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["state"], "success");
    assert_eq!(
        c.whoami(&app, Some(&mine)).await.status,
        200,
        "the current session stays"
    );
    assert_eq!(
        c.whoami(&app, Some(&other)).await.status,
        401,
        "other sessions end"
    );
    let login = FlowClient::new(Kind::Api);
    let f = login.init(&app, "login").await;
    assert_eq!(
        login
            .submit(&app, "login", &f, sign_in("pw@example.com", PASSWORD))
            .await
            .status,
        400
    );
    let f = login.init(&app, "login").await;
    assert_eq!(
        login
            .submit(&app, "login", &f, sign_in("pw@example.com", NEW_PASSWORD))
            .await
            .status,
        200
    );
    // The owner is told (SECURITY.md J2), and the notice holds no secret.
    let notices: Vec<Value> = wait_messages(&app, "pw@example.com", 2)
        .await
        .into_iter()
        .filter(|m| m["template_type"] == "password_changed")
        .collect();
    assert_eq!(notices.len(), 1, "one password notice");
    assert_eq!(
        notices[0]["subject"],
        "The password of your account was changed"
    );
    assert!(!notices[0]["body"].to_string().contains(NEW_PASSWORD));
}

#[tokio::test]
async fn a_stale_session_must_log_in_again_for_sensitive_changes() {
    let app = spawn_with(|s| {
        s.selfservice.flows.settings.privileged_session_max_age =
            Some(verity::config::GoDuration::from_secs(0));
    })
    .await;
    register_verified(&app, "stale@example.com").await;
    for kind in [Kind::Api, Kind::Browser] {
        let (c, token) = signed_in(&app, kind, "stale@example.com").await;
        let flow = init_settings(&app, &c, token.as_deref()).await;
        for body in [
            json!({"method": "password", "password": NEW_PASSWORD}),
            json!({"method": "profile", "traits": {"email": "stolen@example.com"}}),
        ] {
            let r = submit(&app, &c, token.as_deref(), &flow, body).await;
            let target = if kind == Kind::Browser {
                assert_eq!(r.status, 303, "{r:?}");
                r.location().unwrap().to_owned()
            } else {
                assert_eq!(r.status, 403, "{r:?}");
                assert_eq!(r.error_id(), Some("session_refresh_required"));
                r.body["redirect_browser_to"].as_str().unwrap().to_owned()
            };
            assert!(
                target.contains("/self-service/login/browser?refresh=true&return_to="),
                "{target}"
            );
            assert!(
                target.contains(flow["id"].as_str().unwrap()),
                "comes back to the flow: {target}"
            );
        }
    }
    assert!(inbox(&app, "stolen@example.com").await.is_empty());
    let login = FlowClient::new(Kind::Api);
    let f = login.init(&app, "login").await;
    assert_eq!(
        login
            .submit(&app, "login", &f, sign_in("stale@example.com", PASSWORD))
            .await
            .status,
        200,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn an_expired_flow_is_replaced() {
    let app = spawn_with(|s| {
        s.selfservice.flows.settings.lifespan = verity::config::GoDuration::from_secs(0);
    })
    .await;
    register_verified(&app, "late@example.com").await;
    let token = login_token(&app, "late@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = init_settings(&app, &c, Some(&token)).await;
    let id = flow["id"].as_str().unwrap();
    let resp = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header(ACCEPT, "application/json")
        .header("X-Session-Token", &token)
        .send()
        .await
        .unwrap();
    let r = Reply::read(resp).await;
    assert_eq!(r.status, 410, "{r:?}");
    assert_eq!(r.error_id(), None, "settings answers 410 without an id");
    let body = json!({"method": "profile", "traits": {"email": "late@example.com"}});
    let r = submit(&app, &c, Some(&token), &flow, body).await;
    assert_eq!(r.status, 410, "{r:?}");
    assert_eq!(r.error_id(), Some("self_service_flow_expired"));
    let new = r.body["use_flow_id"].as_str().expect("use_flow_id");
    assert_ne!(new, id);
}
