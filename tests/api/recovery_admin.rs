//! Recovery beyond the form: codes and links an administrator issues, the link strategy,
//! fifty parallel right codes, and a verified account whose other sessions end when the new
//! password is set (and not before).

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::auth_support::{FlowClient, PASSWORD, login_token};
use crate::helpers::{TestApp, json_with_status, spawn_postgres_with, spawn_with};
use crate::recovery_support::*;
use crate::verification_support::{Kind, Reply, message_ids, wait_messages};

/// An identity whose address is verified already, with the test password.
async fn verified_identity(app: &TestApp, email: &str) -> String {
    let body = json!({"schema_id": "default", "traits": {"email": email},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
        "credentials": {"password": {"config": {"password": PASSWORD}}}});
    app.create_identity(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn other_sessions_end_when_the_new_password_is_set() {
    let app = spawn_with(|_| {}).await;
    let email = "verified-owner@example.com";
    verified_identity(&app, email).await;
    let old = login_token(&app, email).await;
    let c = FlowClient::new(Kind::Api);
    let (flow, _) = code_sent(&app, &c, email).await;
    let reply = submit_code(&app, &c, &flow, &newest_code(&app, email, 1).await).await;
    let (settings_id, token) = finished(&app, Kind::Api, &reply);
    assert_eq!(
        c.whoami(&app, Some(&old)).await.status,
        200,
        "a proven account keeps its sessions"
    );
    assert!(
        password_works(&app, email, PASSWORD).await,
        "and its password, until changed"
    );
    let settings = settings_flow(&app, &c, &settings_id, token.as_deref()).await;
    let body = json!({"method": "password", "password": "another long new passphrase"});
    let r = c
        .submit_with(&app, "settings", &settings, body, token.as_deref())
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        c.whoami(&app, Some(&old)).await.status,
        401,
        "the old session ended"
    );
    assert_eq!(c.whoami(&app, token.as_deref()).await.status, 200);
}

async fn fifty_right_codes(app: &TestApp) {
    let email = "fifty@example.com";
    identity_with_password(app, email).await;
    let c = FlowClient::new(Kind::Api);
    let (flow, _) = code_sent(app, &c, email).await;
    let code = newest_code(app, email, 1).await;
    let replies: Vec<Reply> = join_all((0..50).map(|_| submit_code(app, &c, &flow, &code))).await;
    let won = replies
        .iter()
        .filter(|r| r.status == 200 && r.body["state"] == "passed_challenge")
        .count();
    assert_eq!(
        won,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status != 500));
    let sessions = json_with_status(
        app.get_admin(&format!(
            "/admin/identities/{}/sessions",
            flow_identity(app, email).await
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(
        sessions.as_array().unwrap().len(),
        1,
        "one session: {sessions}"
    );
}

async fn flow_identity(app: &TestApp, email: &str) -> String {
    let list = json_with_status(
        app.get_admin(&format!("/admin/identities?credentials_identifier={email}"))
            .await,
        200,
    )
    .await;
    list[0]["id"].as_str().unwrap().to_owned()
}

fn unlimited(s: &mut verity::config::Settings) {
    s.selfservice.rate_limits.enabled = false;
}

#[tokio::test]
async fn fifty_parallel_right_codes_recover_once() {
    fifty_right_codes(&spawn_with(unlimited).await).await;
}

#[tokio::test]
async fn fifty_parallel_right_codes_recover_once_on_postgres() {
    let Some(app) = spawn_postgres_with(|s| {
        unlimited(s);
        s.courier.worker.enabled = false;
    })
    .await
    else {
        return;
    };
    fifty_right_codes(&app).await;
}

async fn admin(app: &TestApp, path: &str, body: Value) -> Reply {
    Reply::read(app.post_admin(path, &body).await).await
}

#[tokio::test]
async fn an_administrator_issues_a_recovery_code() {
    let app = spawn_with(|_| {}).await;
    let email = "invited@example.com";
    let id = identity_with_password(&app, email).await;
    let r = admin(
        &app,
        "/admin/recovery/code",
        json!({"identity_id": id, "expires_in": "30m"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let link = r.body["recovery_link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/ui/recovery?flow=", app.public)),
        "{link}"
    );
    let code = r.body["recovery_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(r.body["expires_at"].is_string());
    assert!(
        crate::verification_support::inbox(&app, email)
            .await
            .is_empty(),
        "nothing mailed"
    );

    // Any browser holding the link may open the flow and use the code.
    let flow_id = r.redirect_flow_id_in(link);
    let c = FlowClient::new(Kind::Spa);
    let flow = c.get(&app, "recovery", &flow_id).await;
    assert_eq!(flow["state"], "sent_email");
    let reply = submit_code(&app, &c, &flow, &code).await;
    finished(&app, Kind::Spa, &reply);
    let address = &identity(&app, &id).await["verifiable_addresses"][0];
    assert_eq!(
        address["verified"], false,
        "an admin code proves no address"
    );
    assert!(
        password_works_unverified(&app, email).await,
        "nor strips the password"
    );

    for (body, status) in [
        (json!({"identity_id": uuid::Uuid::new_v4()}), 404),
        (json!({"identity_id": id, "expires_in": "-1h"}), 400),
        (json!({"identity_id": id, "expires_in": "soon"}), 400),
        (json!({"identity_id": id, "flow_type": "native"}), 400),
        (json!({"expires_in": "1h"}), 400),
    ] {
        let r = admin(&app, "/admin/recovery/code", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {r:?}");
    }
}

/// The password still authenticates (the login answers "verify first", not "wrong password").
async fn password_works_unverified(app: &TestApp, email: &str) -> bool {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "login").await;
    let r = c
        .submit(
            app,
            "login",
            &flow,
            crate::auth_support::sign_in(email, PASSWORD),
        )
        .await;
    r.status == 403 || r.status == 200
}

trait FlowIdIn {
    fn redirect_flow_id_in(&self, url: &str) -> String;
}

impl FlowIdIn for Reply {
    fn redirect_flow_id_in(&self, url: &str) -> String {
        let u = url::Url::parse(url).unwrap();
        u.query_pairs()
            .find(|(k, _)| k == "flow")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }
}

fn link_recovery(s: &mut verity::config::Settings) {
    s.selfservice.methods.link.enabled = true;
    s.selfservice.flows.recovery.strategy = Some("link".into());
}

#[tokio::test]
async fn recovery_by_link_and_an_administrators_link() {
    let app = spawn_with(link_recovery).await;
    let email = "linked@example.com";
    let id = identity_with_password(&app, email).await;
    let c = FlowClient::new(Kind::Browser);
    let (flow, _) = code_sent_with(&app, &c, email, "link").await;
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(message_ids(&flow), [1060002]);
    let m = &wait_messages(&app, email, 1).await[0];
    assert_eq!(m["template_type"], "recovery_valid");
    let body = m["body"].as_str().unwrap();
    let start = body.find("/self-service/recovery?").expect("a link");
    let link: String = body[start..]
        .chars()
        .take_while(|ch| !ch.is_whitespace() && *ch != '"' && *ch != '<')
        .collect();
    let r = Reply::read(
        c.http
            .get(format!("{}{link}", app.public))
            .send()
            .await
            .unwrap(),
    )
    .await;
    finished(&app, Kind::Browser, &r);
    assert_eq!(
        identity(&app, &id).await["verifiable_addresses"][0]["verified"],
        true
    );
    // The link works once.
    let again = Reply::read(
        crate::verification_support::jar()
            .get(format!("{}{link}", app.public))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, 303);
    assert!(
        again.location().unwrap().contains("/ui/recovery?flow="),
        "{again:?}"
    );

    let r = admin(&app, "/admin/recovery/link", json!({"identity_id": id})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let link = r.body["recovery_link"].as_str().unwrap();
    assert!(
        link.contains("/self-service/recovery?flow=") && link.contains("token="),
        "{link}"
    );
    let fresh = crate::verification_support::jar();
    let r = Reply::read(fresh.get(link).send().await.unwrap()).await;
    finished(&app, Kind::Browser, &r);
}

async fn code_sent_with(
    app: &TestApp,
    c: &FlowClient,
    email: &str,
    method: &str,
) -> (Value, Reply) {
    let flow = c.init(app, "recovery").await;
    let reply = c
        .submit(
            app,
            "recovery",
            &flow,
            json!({"method": method, "email": email}),
        )
        .await;
    (after(app, c, &reply).await, reply)
}
