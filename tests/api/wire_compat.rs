//! Wire details checked against Kratos v26.2's source: a submission body that cannot be
//! decoded is a form error on the flow (not an error envelope), and a browser opening the
//! emailed link of an expired api flow continues in a browser flow.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use verity::config::GoDuration;

use crate::auth_support::{login_token, register_verified};
use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::verification_support::{Client, Kind, create_email_identity, sent_code, ui_url};

async fn api_flow(app: &TestApp, kind: &str, token: Option<&str>) -> String {
    let mut req = app
        .http
        .get(format!("{}/self-service/{kind}/api", app.public));
    if let Some(t) = token {
        req = req.header("X-Session-Token", t);
    }
    let flow: Value = req.send().await.unwrap().json().await.unwrap();
    flow["id"].as_str().unwrap().to_owned()
}

/// Kratos's decoder errors are 400 herodot errors, which the flow shows as 4000001.
#[tokio::test]
async fn undecodable_submission_bodies_are_shown_on_the_flow() {
    let app = spawn_app().await;
    register_verified(&app, "wire@example.com").await;
    let token = login_token(&app, "wire@example.com").await;
    let bodies = [
        (
            "application/json",
            "{\"method\":",
            "Unable to decode JSON payload: ",
        ),
        (
            "text/plain",
            "method=password",
            "HTTP POST Request used unknown HTTP Header \"Content-Type: text/plain\", only [application/json application/x-www-form-urlencoded] are supported.",
        ),
    ];
    for kind in ["login", "registration", "verification", "settings"] {
        let session = (kind == "settings").then_some(token.as_str());
        let id = api_flow(&app, kind, session).await;
        for (content_type, body, reason) in bodies {
            let mut req = app
                .http
                .post(format!("{}/self-service/{kind}?flow={id}", app.public))
                .header(CONTENT_TYPE, content_type)
                .body(body);
            if let Some(t) = session {
                req = req.header("X-Session-Token", t);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 400, "{kind} {content_type}");
            let flow: Value = resp.json().await.unwrap();
            assert_eq!(
                flow["id"], id,
                "{kind}: the flow itself, not an envelope: {flow}"
            );
            let message = &flow["ui"]["messages"][0];
            assert_eq!(message["id"], 4000001, "{kind}: {flow}");
            let text = message["text"].as_str().unwrap();
            assert!(text.starts_with(reason), "{kind}: {text}");
            assert_eq!(message["context"]["reason"], text);
        }
    }
}

#[tokio::test]
async fn a_browser_posting_an_undecodable_body_goes_back_to_the_form() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Browser);
    let flow = c.init(&app).await;
    let id = flow["id"].as_str().unwrap();
    let resp = c
        .http
        .post(format!(
            "{}/self-service/verification?flow={id}",
            app.public
        ))
        .header(CONTENT_TYPE, "text/plain")
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("{}?flow={id}", ui_url(&app)).as_str()
    );
    let shown = c.flow(&app, id).await;
    assert_eq!(shown["ui"]["messages"][0]["id"], 4000001, "{shown}");
}

/// Kratos's `FromOldFlow`: the replacement of an api flow opened from a message is a browser
/// flow, so the browser that clicked the link can carry on with its own CSRF cookie.
#[tokio::test]
async fn a_browser_opening_the_link_of_an_expired_api_flow_continues_in_a_browser_flow() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.lifespan = GoDuration::from_secs(1)).await;
    let email = "link-of-api-flow@example.com";
    create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &Client::new(Kind::Api), email).await;
    assert_eq!(flow["type"], "api");
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let browser = Client::new(Kind::Browser);
    let id = flow["id"].as_str().unwrap();
    let opened = browser
        .open_link(&app, &format!("flow={id}&code={code}"))
        .await;
    assert_eq!(opened.status, 303, "{opened:?}");
    let new_id = opened.redirect_flow_id().expect("a new flow");
    assert_ne!(new_id, id);
    let new = browser.flow(&app, &new_id).await;
    assert_eq!(new["type"], "browser", "{new}");
    assert_eq!(new["ui"]["messages"][0]["id"], 4070005, "expired: {new}");
    // The browser can use the new flow: its form carries the cookie's CSRF token.
    let sent = browser.send_code(&app, &new, email).await;
    let again = browser.expect_same_flow(&app, &sent, &new_id, 200).await;
    assert_eq!(again["state"], "sent_email", "{again}");

    // A native client's own submission on an expired api flow still gets an api flow.
    let (flow, code) = sent_code(&app, &Client::new(Kind::Api), email).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let api = Client::new(Kind::Api);
    let reply = api.use_code(&app, &flow, &code).await;
    let replaced = api.resolve(&app, &reply).await;
    assert_eq!(replaced["type"], "api", "{replaced}");
}
