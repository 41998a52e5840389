//! The admin sessions API: list an identity's sessions, look one up, revoke, extend.

use serde_json::Value;

use crate::auth_support::{FlowClient, login_token, register_verified};
use crate::helpers::{TestApp, json_with_status, spawn_app};
use crate::verification_support::Kind;

async fn admin(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
    app.http
        .request(method, format!("{}{path}", app.admin))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
}

async fn session_id(app: &TestApp, token: &str) -> String {
    let r = FlowClient::new(Kind::Api).whoami(app, Some(token)).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

async fn listed(app: &TestApp, identity: &str, query: &str) -> Vec<Value> {
    let resp = admin(
        app,
        reqwest::Method::GET,
        &format!("/admin/identities/{identity}/sessions{query}"),
    )
    .await;
    json_with_status(resp, 200)
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn admins_list_revoke_and_extend_sessions() {
    let app = spawn_app().await;
    let id = register_verified(&app, "admin-s@example.com").await;
    let a = login_token(&app, "admin-s@example.com").await;
    let b = login_token(&app, "admin-s@example.com").await;
    let (sa, sb) = (session_id(&app, &a).await, session_id(&app, &b).await);
    let all = listed(&app, &id, "").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["identity"]["id"], id);
    assert_eq!(listed(&app, &id, "?active=true").await.len(), 2);

    let resp = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/sessions/{sa}"),
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        FlowClient::new(Kind::Api)
            .whoami(&app, Some(&a))
            .await
            .status,
        401
    );
    let inactive = listed(&app, &id, "?active=false").await;
    assert_eq!(inactive.len(), 1);
    assert_eq!(inactive[0]["id"], sa);
    assert_eq!(inactive[0]["active"], false);

    let one = json_with_status(
        admin(
            &app,
            reqwest::Method::GET,
            &format!("/admin/sessions/{sb}?expand=identity"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(one["identity"]["id"], id);
    let plain = json_with_status(
        admin(&app, reqwest::Method::GET, &format!("/admin/sessions/{sb}")).await,
        200,
    )
    .await;
    assert!(plain.get("identity").is_none());

    let extended = json_with_status(
        admin(
            &app,
            reqwest::Method::PATCH,
            &format!("/admin/sessions/{sb}/extend"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(extended["id"], sb);
    assert!(extended["expires_at"].as_str().unwrap() >= one["expires_at"].as_str().unwrap());
    let resp = admin(
        &app,
        reqwest::Method::PATCH,
        &format!("/admin/sessions/{sa}/extend"),
    )
    .await;
    assert_eq!(resp.status(), 404, "an ended session cannot be extended");

    let resp = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/identities/{id}/sessions"),
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        FlowClient::new(Kind::Api)
            .whoami(&app, Some(&b))
            .await
            .status,
        401
    );
    assert!(listed(&app, &id, "?active=true").await.is_empty());
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = spawn_app().await;
    let nobody = uuid::Uuid::new_v4();
    for (method, path) in [
        (reqwest::Method::GET, format!("/admin/sessions/{nobody}")),
        (reqwest::Method::DELETE, format!("/admin/sessions/{nobody}")),
        (
            reqwest::Method::PATCH,
            format!("/admin/sessions/{nobody}/extend"),
        ),
        (
            reqwest::Method::GET,
            format!("/admin/identities/{nobody}/sessions"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/identities/{nobody}/sessions"),
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions/not-a-uuid".to_owned(),
        ),
    ] {
        assert_eq!(
            admin(&app, method.clone(), &path).await.status(),
            404,
            "{method} {path}"
        );
    }
    let resp = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin/identities/{nobody}/sessions?active=maybe"),
    )
    .await;
    assert_eq!(resp.status(), 404, "the identity is looked up first");
}
