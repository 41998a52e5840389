//! An api flow answers as an api flow whatever the body's encoding (issue 18, item 4): a
//! native client that posts a form gets JSON and its session token, never a browser redirect.

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::auth_support::{FlowClient, PASSWORD, register_verified};
use crate::helpers::{TestApp, spawn_app};
use crate::verification_support::Kind;

/// Posts `form` urlencoded to the api flow `flow` of `kind`, following no redirect.
async fn post_form(app: &TestApp, kind: &str, id: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/self-service/{kind}?flow={id}", app.public))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let is_json = r
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
    assert!(
        is_json,
        "{kind}: a JSON answer, got {status} {:?}",
        r.headers()
    );
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn form_encoded_posts_to_api_flows_get_json_and_the_session_token() {
    let app = spawn_app().await;
    register_verified(&app, "form-api@example.com").await;
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(&app, "login").await;
    let id = flow["id"].as_str().unwrap();
    let wrong = [
        ("method", "password"),
        ("identifier", "form-api@example.com"),
        ("password", "not the password 123"),
    ];
    let (status, body) = post_form(&app, "login", id, &wrong).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["id"], id, "the flow comes back with its message");
    let right = [
        ("method", "password"),
        ("identifier", "form-api@example.com"),
        ("password", PASSWORD),
    ];
    let (status, body) = post_form(&app, "login", id, &right).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["session_token"].is_string(), "{body}");
    let flow = c.init(&app, "registration").await;
    let sign_up = [
        ("method", "password"),
        ("traits.email", "form-api-new@example.com"),
        ("password", PASSWORD),
    ];
    let (status, body) =
        post_form(&app, "registration", flow["id"].as_str().unwrap(), &sign_up).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["identity"]["id"].is_string(), "{body}");
}
