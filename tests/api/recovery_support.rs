//! Helpers for the recovery and sign-in-by-code tests: identities with a password, a
//! recovery flow driven to its code, and what a finished recovery answers each client kind.

use serde_json::{Value, json};

use crate::auth_support::{FlowClient, PASSWORD};
use crate::helpers::{TestApp, json_with_status};
use crate::verification_support::{Kind, Reply, message_ids, wait_messages};

/// An identity with `email` and the test password, created through the admin API.
pub async fn identity_with_password(app: &TestApp, email: &str) -> String {
    let body = json!({"schema_id": "default", "traits": {"email": email},
        "credentials": {"password": {"config": {"password": PASSWORD}}}});
    app.create_identity(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A recovery flow of the client's kind after a code was sent to `email`, and that code
/// (`None` when no message went out).
pub async fn code_sent(app: &TestApp, c: &FlowClient, email: &str) -> (Value, Reply) {
    let flow = c.init(app, "recovery").await;
    let reply = c
        .submit(
            app,
            "recovery",
            &flow,
            json!({"method": "code", "email": email}),
        )
        .await;
    let flow = after(app, c, &reply).await;
    (flow, reply)
}

/// The flow an answer leads to (the body of a JSON answer, the flow a 303 names).
pub async fn after(app: &TestApp, c: &FlowClient, reply: &Reply) -> Value {
    match reply.status {
        303 => {
            let id = reply.redirect_flow_id().expect("303 to a flow");
            c.get(app, "recovery", &id).await
        }
        410 => {
            let id = reply.body["use_flow_id"].as_str().expect("use_flow_id");
            c.get(app, "recovery", id).await
        }
        _ => reply.body.clone(),
    }
}

pub async fn newest_code(app: &TestApp, email: &str, n: usize) -> String {
    wait_messages(app, email, n).await[0]["code"]
        .as_str()
        .expect("a code")
        .to_owned()
}

/// Submits the code; returns the answer.
pub async fn submit_code(app: &TestApp, c: &FlowClient, flow: &Value, code: &str) -> Reply {
    c.submit(
        app,
        "recovery",
        flow,
        json!({"method": "code", "code": code}),
    )
    .await
}

/// Checks what a successful recovery answers this kind of client; returns the settings
/// flow id and, for api clients, the session token.
pub fn finished(app: &TestApp, kind: Kind, reply: &Reply) -> (String, Option<String>) {
    let settings_ui = format!("{}/ui/settings?flow=", app.public);
    match kind {
        Kind::Browser => {
            assert_eq!(reply.status, 303, "{reply:?}");
            let loc = reply.location().unwrap();
            assert!(loc.starts_with(&settings_ui), "to settings: {loc}");
            assert!(
                reply
                    .cookie_names()
                    .iter()
                    .any(|n| n == "ory_kratos_session")
            );
            (reply.redirect_flow_id().unwrap(), None)
        }
        Kind::Spa | Kind::Api => {
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.body["state"], "passed_challenge", "{reply:?}");
            let items = reply.body["continue_with"]
                .as_array()
                .expect("continue_with");
            let token = if kind == Kind::Api {
                assert_eq!(items[0]["action"], "set_ory_session_token");
                assert!(
                    reply
                        .cookie_names()
                        .iter()
                        .all(|n| n != "ory_kratos_session")
                );
                Some(items[0]["ory_session_token"].as_str().unwrap().to_owned())
            } else {
                assert!(
                    reply
                        .cookie_names()
                        .iter()
                        .any(|n| n == "ory_kratos_session")
                );
                None
            };
            let settings = items.last().unwrap();
            assert_eq!(settings["action"], "show_settings_ui");
            let url = settings["flow"]["url"].as_str().unwrap();
            assert!(url.starts_with(&settings_ui), "{url}");
            (settings["flow"]["id"].as_str().unwrap().to_owned(), token)
        }
    }
}

/// The settings flow recovery opened, read with the recovered session.
pub async fn settings_flow(app: &TestApp, c: &FlowClient, id: &str, token: Option<&str>) -> Value {
    let mut req = c
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header("Accept", "application/json");
    if let Some(t) = token {
        req = req.header("X-Session-Token", t);
    }
    let reply = Reply::read(req.send().await.unwrap()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(message_ids(&reply.body), [1060001], "{reply:?}");
    reply.body
}

/// The identity as the admin API shows it.
pub async fn identity(app: &TestApp, id: &str) -> Value {
    json_with_status(app.get_admin(&format!("/admin/identities/{id}")).await, 200).await
}

/// Whether a password sign-in with `password` succeeds.
pub async fn password_works(app: &TestApp, email: &str, password: &str) -> bool {
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
    r.status == 200
}
