//! Rules the flow core applies to every flow kind, tried as an attacker would: the send limits
//! on every path that sends a code or notice, CSRF on code submissions, and errors of browser
//! requests forwarded to the error UI.

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};

use crate::auth_support::{FlowClient, PASSWORD, login_token, register_verified, sign_in};
use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::verification_support::*;

/// An identity with a password whose address is not verified, created by the admin API (so
/// no message has gone out yet).
async fn unverified(app: &TestApp, schema: &str, trait_name: &str, value: &str) {
    let body = json!({
        "schema_id": schema,
        "traits": {trait_name: value},
        "credentials": {"password": {"config": {"password": PASSWORD}}},
    });
    app.create_identity(&body).await;
}

/// Signs in `times` times, each from a browser of its own (so no two sign-ins share a
/// waiting code), and checks each lands on the verification form.
async fn sign_in_repeatedly(app: &TestApp, identifier: &str, times: usize) {
    for _ in 0..times {
        let c = FlowClient::new(Kind::Browser);
        let flow = c.init(app, "login").await;
        let r = c
            .submit(app, "login", &flow, sign_in(identifier, PASSWORD))
            .await;
        assert_eq!(r.status, 303, "{r:?}");
        assert!(
            r.location().unwrap().contains("/ui/verification?flow="),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn sign_ins_of_an_unverified_account_send_at_most_the_send_limit() {
    let app = spawn_app().await;
    let limit = app
        .registry
        .settings
        .selfservice
        .rate_limits
        .verification_sends_per_address_10m as usize;
    unverified(&app, "default", "email", "many-sign-ins@example.com").await;
    sign_in_repeatedly(&app, "many-sign-ins@example.com", 12).await;
    let mails = outbox(&app, "many-sign-ins@example.com").await;
    assert_eq!(mails.len(), limit, "{mails:?}");

    let phone = "+4915112349999";
    unverified(&app, "phone", "phone", phone).await;
    sign_in_repeatedly(&app, phone, 12).await;
    let texts = outbox(&app, phone).await;
    assert_eq!(texts.len(), limit, "{texts:?}");
    assert!(texts.iter().all(|m| m["type"] == "sms"), "{texts:?}");
}

#[tokio::test]
async fn sign_ins_from_one_client_reuse_the_waiting_code() {
    let app = spawn_app().await;
    unverified(&app, "default", "email", "one-client@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let mut flows = Vec::new();
    for _ in 0..4 {
        let flow = c.init(&app, "login").await;
        let r = c
            .submit(
                &app,
                "login",
                &flow,
                sign_in("one-client@example.com", PASSWORD),
            )
            .await;
        assert_eq!(r.status, 403, "{r:?}");
        flows.push(r.body["error"]["details"]["continue_with"][0]["flow"]["id"].clone());
    }
    assert!(flows.iter().all(|f| f == &flows[0]), "{flows:?}");
    assert_eq!(outbox(&app, "one-client@example.com").await.len(), 1);
}

#[tokio::test]
async fn repeated_settings_changes_send_at_most_the_send_limit() {
    let app = spawn_app().await;
    let limit = app
        .registry
        .settings
        .selfservice
        .rate_limits
        .verification_sends_per_address_10m as usize;
    register_verified(&app, "owner@example.com").await;
    let token = login_token(&app, "owner@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let target = "target@example.com";
    for i in 0..14 {
        let resp = c
            .http
            .get(format!("{}/self-service/settings/api", app.public))
            .header(ACCEPT, "application/json")
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap();
        let flow = Reply::read(resp).await.body;
        let email = if i % 2 == 0 {
            target
        } else {
            "owner@example.com"
        };
        let body = json!({"method": "profile", "traits": {"email": email}});
        let r = c
            .submit_with(&app, "settings", &flow, body, Some(&token))
            .await;
        assert_eq!(r.status, 200, "change {i}: {r:?}");
    }
    // Codes to the new address and notices to the removed one share the address's budget.
    let messages = outbox(&app, target).await;
    assert_eq!(messages.len(), limit, "{messages:?}");
}

/// A browser flow with a code sent, and the code.
async fn browser_flow_with_code(app: &TestApp, email: &str) -> (Client, Value, String) {
    let a = Client::new(Kind::Browser);
    create_email_identity(app, email).await;
    let (flow, code) = sent_code(app, &a, email).await;
    (a, flow, code)
}

#[tokio::test]
async fn a_cross_site_code_submission_is_refused_and_spends_no_attempt() {
    let app = spawn_app().await;
    let email = "csrf-code@example.com";
    let (a, flow, code) = browser_flow_with_code(&app, email).await;
    let id = flow["id"].as_str().unwrap();
    let url = format!("{}/self-service/verification?flow={id}", app.public);
    // A form posted from another site: no cookie of ours, no token.
    let forged = jar();
    for _ in 0..6 {
        let r = forged
            .post(&url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[("method", "code"), ("code", &wrong(&code))]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
        let error_id = location.rsplit("id=").next().unwrap();
        let stored: Value =
            reqwest::get(format!("{}/self-service/errors?id={error_id}", app.public))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(stored["error"]["id"], "security_csrf_violation", "{stored}");
        assert_eq!(stored["error"]["code"], 403);
    }
    // The victim's own cookie without the page's token (a cross-site fetch): refused too.
    let r = a
        .http
        .post(&url)
        .header(ACCEPT, "application/json")
        .json(&json!({"method": "code", "code": wrong(&code)}))
        .send()
        .await
        .unwrap();
    let reply = Reply::read(r).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.error_id(), Some("security_csrf_violation"));
    // None of those spent one of the five attempts: the right code still works.
    let reply = a.use_code(&app, &flow, &code).await;
    let done = a.expect_same_flow(&app, &reply, id, 200).await;
    assert_eq!(done["state"], "passed_challenge");
}

#[tokio::test]
async fn a_browser_naming_an_unknown_or_malformed_flow_lands_on_the_error_ui() {
    let external = "https://ui.example.com/error";
    let app = spawn_with(|s| s.selfservice.flows.error.ui_url = Some(external.into())).await;
    let b = jar();
    let unknown = uuid::Uuid::new_v4();
    let targets = [
        format!("/self-service/verification?flow={unknown}&code=123456"),
        "/self-service/verification?flow=not-a-flow&code=123456".to_owned(),
    ];
    for path in targets {
        let r = b.get(format!("{}{path}", app.public)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        let location = r.headers()[LOCATION].to_str().unwrap();
        assert!(
            location.starts_with(&format!("{external}?id=")),
            "{path}: {location}"
        );
    }
    for kind in ["login", "registration", "verification"] {
        let r = b
            .post(format!("{}/self-service/{kind}?flow={unknown}", app.public))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("method=password")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{kind}");
        let location = r.headers()[LOCATION].to_str().unwrap();
        assert!(
            location.starts_with(&format!("{external}?id=")),
            "{kind}: {location}"
        );
    }
    // JSON clients get the envelope.
    let r = b
        .post(format!("{}/self-service/login?flow={unknown}", app.public))
        .header(ACCEPT, "application/json")
        .json(&json!({"method": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_code_of_the_wrong_shape_is_refused_without_spending_an_attempt() {
    let app = spawn_app().await;
    let email = "shape@example.com";
    create_email_identity(&app, email).await;
    let c = Client::new(Kind::Api);
    let (flow, code) = sent_code(&app, &c, email).await;
    let long = "1".repeat(1024);
    for bad in [long.as_str(), "12345", "abcdef", "1234567", "12 34 56x"] {
        let reply = c.use_code(&app, &flow, bad).await;
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert_eq!(
            node_message_ids(&reply.body, "code"),
            [4000001],
            "{reply:?}"
        );
    }
    let reply = c.use_code(&app, &flow, &code).await;
    assert_eq!(reply.body["state"], "passed_challenge", "{reply:?}");
}

#[tokio::test]
async fn flow_sends_to_high_cost_numbers_look_sent_and_send_nothing() {
    let app = spawn_app().await;
    // Satellite and international premium rate: refused by the SMS policy by default.
    for number in ["+881612345678", "+979123456789"] {
        // The verification form's send.
        let c = Client::new(Kind::Api);
        let flow = c.init(&app).await;
        let r = c.send_code(&app, &flow, number).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["state"], "sent_email", "answered like a send");
        // A sign-in of an account holding the number.
        unverified(&app, "phone", "phone", number).await;
        let login = FlowClient::new(Kind::Api);
        let f = login.init(&app, "login").await;
        let r = login
            .submit(&app, "login", &f, sign_in(number, PASSWORD))
            .await;
        assert_eq!(r.status, 403, "{r:?}");
        assert!(outbox(&app, number).await.is_empty(), "no SMS to {number}");
    }
}
