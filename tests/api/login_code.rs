//! Sign-in by code (`selfservice.methods.code.passwordless_enabled`), for a browser, a
//! single-page app and a native app, on SQLite and Postgres: identifier → code sent (400
//! with the flow in `sent_email`, 1010014) → code → session; the code verifies the address,
//! so `require_verified_address` lets the sign-in through; wrong and reused codes; an
//! unknown identifier answered alike.

use serde_json::{Value, json};

use crate::auth_support::FlowClient;
use crate::helpers::{TestApp, spawn_postgres_with, spawn_with};
use crate::recovery_support::{identity, identity_with_password};
use crate::verification_support::{
    KINDS, Kind, Reply, inbox, kind_address, message_ids, node, nodes, wait_messages,
};

pub fn passwordless(s: &mut verity::config::Settings) {
    s.selfservice.methods.code.passwordless_enabled = true;
}

/// The login flow an answer leads to.
async fn resolve(app: &TestApp, c: &FlowClient, reply: &Reply) -> Value {
    match reply.status {
        303 => {
            c.get(app, "login", &reply.redirect_flow_id().expect("a flow"))
                .await
        }
        410 => {
            c.get(app, "login", reply.body["use_flow_id"].as_str().unwrap())
                .await
        }
        _ => reply.body.clone(),
    }
}

pub async fn send(app: &TestApp, c: &FlowClient, identifier: &str) -> (Value, Reply) {
    let flow = c.init(app, "login").await;
    let reply = c
        .submit(
            app,
            "login",
            &flow,
            json!({"method": "code", "identifier": identifier}),
        )
        .await;
    (resolve(app, c, &reply).await, reply)
}

async fn enter(app: &TestApp, c: &FlowClient, flow: &Value, code: &str) -> Reply {
    let identifier = node(flow, "identifier").unwrap()["attributes"]["value"].clone();
    c.submit(
        app,
        "login",
        flow,
        json!({"method": "code", "code": code, "identifier": identifier}),
    )
    .await
}

fn signed_in(kind: Kind, reply: &Reply) {
    match kind {
        Kind::Browser => {
            assert_eq!(reply.status, 303, "{reply:?}");
            assert!(
                reply
                    .cookie_names()
                    .iter()
                    .any(|n| n == "ory_kratos_session")
            );
        }
        Kind::Spa => {
            assert_eq!(reply.status, 200, "{reply:?}");
            assert!(reply.body["session"]["id"].is_string());
        }
        Kind::Api => {
            assert_eq!(reply.status, 200, "{reply:?}");
            assert!(reply.body["session_token"].is_string(), "{reply:?}");
        }
    }
}

async fn sign_in_by_code(app: &TestApp) {
    for kind in KINDS {
        let c = FlowClient::new(kind);
        let email = kind_address(kind, "by-code");
        let id = identity_with_password(app, &email).await;
        let flow = c.init(app, "login").await;
        let button = nodes(&flow)
            .iter()
            .find(|n| n["attributes"]["name"] == "method" && n["attributes"]["value"] == "code")
            .expect("a code button");
        assert_eq!(button["meta"]["label"]["id"], 1010015);
        let label = &node(&flow, "identifier").unwrap()["meta"]["label"];
        assert_eq!(
            (label["id"].clone(), label["text"].clone()),
            (json!(1070002), json!("E-Mail"))
        );

        let (sent, reply) = send(app, &c, &email).await;
        if kind.is_json() {
            assert_eq!(reply.status, 400, "{reply:?}");
        }
        assert_eq!(sent["state"], "sent_email", "{sent}");
        assert_eq!(message_ids(&sent), [1010014]);
        let code_node = node(&sent, "code").unwrap();
        assert_eq!(code_node["meta"]["label"]["id"], 1070013);
        assert_eq!(code_node["attributes"]["autocomplete"], "one-time-code");
        let m = &wait_messages(app, &email, 1).await[0];
        assert_eq!(m["template_type"], "login_code_valid");
        let code = m["code"].as_str().unwrap().to_owned();

        let wrong = enter(app, &c, &sent, "000000").await;
        let shown = resolve(app, &c, &wrong).await;
        assert_eq!(message_ids(&shown), [4010008], "{shown}");

        let reply = enter(app, &c, &shown, &code).await;
        signed_in(kind, &reply);
        let address = &identity(app, &id).await["verifiable_addresses"][0];
        assert_eq!(address["verified"], true, "the code proved the address");
        let again = enter(
            app,
            &FlowClient {
                kind,
                http: c.http.clone(),
            },
            &shown,
            &code,
        )
        .await;
        assert_ne!(again.status, 200, "a code signs in once: {again:?}");
        assert_ne!(again.status, 500);
    }
}

#[tokio::test]
async fn sign_in_by_code_for_every_client() {
    sign_in_by_code(&spawn_with(passwordless).await).await;
}

#[tokio::test]
async fn sign_in_by_code_on_postgres() {
    let Some(app) = spawn_postgres_with(passwordless).await else {
        return;
    };
    sign_in_by_code(&app).await;
}

#[tokio::test]
async fn an_unknown_identifier_is_answered_like_a_known_one() {
    let app = spawn_with(passwordless).await;
    for kind in KINDS {
        let known = kind_address(kind, "known-code");
        let unknown = kind_address(kind, "unknown-code");
        identity_with_password(&app, &known).await;
        let (a, ra) = send(&app, &FlowClient::new(kind), &known).await;
        let (b, rb) = send(&app, &FlowClient::new(kind), &unknown).await;
        assert_eq!(ra.status, rb.status);
        assert_eq!(ra.cookie_names(), rb.cookie_names());
        let shape = |f: &Value| {
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
        assert_eq!(message_ids(&a), message_ids(&b));
        assert!(inbox(&app, &unknown).await.is_empty());
        let r = enter(&app, &FlowClient::new(kind), &b, "123456").await;
        assert_ne!(r.status, 500);
    }
}

#[tokio::test]
async fn without_passwordless_the_code_method_is_not_offered() {
    let app = spawn_with(|_| {}).await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    assert!(
        nodes(&flow)
            .iter()
            .all(|n| n["attributes"]["value"] != "code"),
        "{flow}"
    );
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            json!({"method": "code", "identifier": "a@example.com"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(message_ids(&r.body), [4010002]);
}
