//! Sessions: whoami, logout for browsers and apps, the user's own session list, the
//! "only verified users" switch, and the session cookie's flags.

use serde_json::json;

use crate::auth_support::{
    FlowClient, PASSWORD, login_token, register, register_verified, sign_in,
};
use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::{Kind, Reply};

#[tokio::test]
async fn whoami_without_credentials_is_401() {
    let app = spawn_app().await;
    let c = FlowClient::new(Kind::Api);
    let r = c.whoami(&app, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["error"]["reason"],
        "No valid session credentials found in the request."
    );
    assert_eq!(c.whoami(&app, Some("ory_st_forged")).await.status, 401);
}

#[tokio::test]
async fn a_browser_logs_out_through_the_logout_url() {
    let app = spawn_app().await;
    register_verified(&app, "bye@example.com").await;
    let b = FlowClient::new(Kind::Browser);
    let flow = b.init(&app, "login").await;
    let r = b
        .submit(&app, "login", &flow, sign_in("bye@example.com", PASSWORD))
        .await;
    assert_eq!(r.status, 303);
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ory_kratos_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let resp = b
        .http
        .get(format!("{}/self-service/logout/browser", app.public))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let logout = Reply::read(resp).await;
    assert_eq!(logout.status, 200);
    let url = logout.body["logout_url"].as_str().unwrap();
    assert!(
        logout.body["logout_token"]
            .as_str()
            .unwrap()
            .starts_with("ory_lo_")
    );
    let done = Reply::read(b.http.get(url).send().await.unwrap()).await;
    assert_eq!(done.status, 303);
    assert_eq!(b.whoami(&app, None).await.status, 401);
    // A used or forged logout token is refused.
    let again = Reply::read(
        app.http
            .get(format!(
                "{}/self-service/logout?token=ory_lo_forged",
                app.public
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, 403);
    let missing = Reply::read(
        app.http
            .get(format!("{}/self-service/logout", app.public))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 400);
    let unauth = Reply::read(
        app.http
            .get(format!("{}/self-service/logout/browser", app.public))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(unauth.status, 401);
}

#[tokio::test]
async fn an_app_logs_out_with_its_token() {
    let app = spawn_app().await;
    register_verified(&app, "app@example.com").await;
    let token = login_token(&app, "app@example.com").await;
    let other = login_token(&app, "app@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let mine = Reply::read(
        app.http
            .get(format!("{}/sessions", app.public))
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(mine.status, 200);
    assert_eq!(
        mine.body.as_array().unwrap().len(),
        1,
        "the other session is listed"
    );
    let r = app
        .http
        .delete(format!("{}/self-service/logout/api", app.public))
        .json(&json!({"session_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(c.whoami(&app, Some(&token)).await.status, 401);
    assert_eq!(c.whoami(&app, Some(&other)).await.status, 200);
    let again = app
        .http
        .delete(format!("{}/self-service/logout/api", app.public))
        .json(&json!({"session_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
}

#[tokio::test]
async fn only_verified_users_may_call_whoami_when_switched_on() {
    let app = spawn_with(|s| {
        s.session.whoami.require_verified_address = true;
        s.selfservice.flows.login.after = verity::config::AfterConfig::default();
    })
    .await;
    register(&app, "pending@example.com").await;
    let token = login_token(&app, "pending@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let r = c.whoami(&app, Some(&token)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["id"], "session_verified_address_required");
    register_verified(&app, "done@example.com").await;
    let token = login_token(&app, "done@example.com").await;
    assert_eq!(c.whoami(&app, Some(&token)).await.status, 200);
}

#[tokio::test]
async fn sessions_expire_with_their_lifespan() {
    let app = spawn_with(|s| s.session.lifespan = verity::config::GoDuration::from_secs(1)).await;
    register_verified(&app, "short@example.com").await;
    let token = login_token(&app, "short@example.com").await;
    let c = FlowClient::new(Kind::Api);
    assert_eq!(c.whoami(&app, Some(&token)).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(c.whoami(&app, Some(&token)).await.status, 401);
}

#[tokio::test]
async fn a_logout_link_is_stable_and_only_works_for_its_session() {
    let app = spawn_app().await;
    register_verified(&app, "links@example.com").await;
    let b = FlowClient::new(Kind::Spa);
    let flow = b.init(&app, "login").await;
    assert_eq!(
        b.submit(&app, "login", &flow, sign_in("links@example.com", PASSWORD))
            .await
            .status,
        200
    );
    let ask = || async {
        let r = b
            .http
            .get(format!("{}/self-service/logout/browser", app.public))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        Reply::read(r).await.body["logout_url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first, second) = (ask().await, ask().await);
    assert_eq!(
        first, second,
        "two tabs get the same link; asking writes nothing"
    );
    // Another browser (here: one with another session) cannot use the link.
    let token = login_token(&app, "links@example.com").await;
    let other = Reply::read(
        app.http
            .get(&first)
            .header("Accept", "application/json")
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other.status, 403);
    assert_eq!(
        FlowClient::new(Kind::Api)
            .whoami(&app, Some(&token))
            .await
            .status,
        200
    );
    assert_eq!(b.whoami(&app, None).await.status, 200, "still signed in");
    let done = Reply::read(
        b.http
            .get(&first)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, 204);
    assert_eq!(b.whoami(&app, None).await.status, 401);
}

#[tokio::test]
async fn a_user_ends_one_or_all_of_their_other_sessions() {
    let app = spawn_app().await;
    register_verified(&app, "many@example.com").await;
    register_verified(&app, "someone@example.com").await;
    let me = login_token(&app, "many@example.com").await;
    let (second, third) = (
        login_token(&app, "many@example.com").await,
        login_token(&app, "many@example.com").await,
    );
    let foreign = login_token(&app, "someone@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let session_id = |token: String| {
        let c = &c;
        let app = &app;
        async move {
            c.whoami(app, Some(&token)).await.body["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (second_id, foreign_id, my_id) = (
        session_id(second.clone()).await,
        session_id(foreign.clone()).await,
        session_id(me.clone()).await,
    );
    let delete = |path: String| {
        let app = &app;
        let me = me.clone();
        async move {
            app.http
                .delete(format!("{}{path}", app.public))
                .header("X-Session-Token", me)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        delete(format!("/sessions/{foreign_id}")).await,
        404,
        "not someone else's"
    );
    assert_eq!(
        delete(format!("/sessions/{my_id}")).await,
        400,
        "the current one is ended by logging out"
    );
    assert_eq!(delete(format!("/sessions/{second_id}")).await, 204);
    assert_eq!(c.whoami(&app, Some(&second)).await.status, 401);
    assert_eq!(c.whoami(&app, Some(&third)).await.status, 200);
    let all = Reply::read(
        app.http
            .delete(format!("{}/sessions", app.public))
            .header("X-Session-Token", &me)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["count"], 1);
    assert_eq!(c.whoami(&app, Some(&third)).await.status, 401);
    assert_eq!(
        c.whoami(&app, Some(&me)).await.status,
        200,
        "the caller's session stays"
    );
    assert_eq!(
        c.whoami(&app, Some(&foreign)).await.status,
        200,
        "other identities are untouched"
    );
}
