//! The error answers of the verification endpoints.

use std::time::Duration;

use reqwest::header::ACCEPT;
use verity::config::GoDuration;

use crate::helpers::{json_with_status, spawn_app, spawn_with};
use crate::verification_support::*;

#[tokio::test]
async fn reading_a_flow_checks_csrf_and_existence() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Browser);
    let flow = c.init(&app).await;
    let id = flow["id"].as_str().unwrap();

    let stranger = Client::new(Kind::Spa);
    let reply = stranger.get_flow(&app, id).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.error_id(), Some("security_csrf_violation"));
    assert_eq!(reply.body["error"]["reason"], CSRF_REASON);
    stranger.init(&app).await; // a cookie, but not this flow's
    assert_eq!(stranger.get_flow(&app, id).await.status, 403);

    for bad in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let reply = c.get_flow(&app, &bad).await;
        assert_eq!(reply.status, 404, "{reply:?}");
        assert_eq!(reply.body["error"]["code"], 404);
    }
}

#[tokio::test]
async fn an_expired_flow_answers_410_with_where_to_start_again() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.lifespan = GoDuration::from_secs(1)).await;
    let browser = Client::new(Kind::Browser);
    let spa = Client::new(Kind::Spa);
    let api = Client::new(Kind::Api);
    let plain = browser.init(&app).await;
    let return_to = format!("{}/come-back", app.public);
    let with_return = spa.init_with(&app, Some(&return_to)).await;
    let native = api.init(&app).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let reply = browser.get_flow(&app, plain["id"].as_str().unwrap()).await;
    assert_eq!(reply.status, 410, "{reply:?}");
    let e = &reply.body["error"];
    assert!(e.get("id").is_none(), "no id: {e}");
    assert_eq!(
        e["reason"],
        "The verification flow has expired. Redirect the user to the verification flow init endpoint to initialize a new verification flow."
    );
    assert_eq!(
        e["details"]["redirect_to"],
        format!("{}/self-service/verification/browser", app.public)
    );

    let reply = spa
        .get_flow(&app, with_return["id"].as_str().unwrap())
        .await;
    assert_eq!(reply.status, 410);
    let d = &reply.body["error"]["details"];
    assert_eq!(d["return_to"], return_to.as_str());
    assert_eq!(
        d["redirect_to"],
        format!(
            "{}/self-service/verification/browser?return_to={}",
            app.public,
            enc(&return_to)
        )
    );

    let reply = api.get_flow(&app, native["id"].as_str().unwrap()).await;
    assert_eq!(reply.status, 410);
    let e = &reply.body["error"];
    assert_eq!(
        e["reason"],
        "The verification flow has expired. Call the verification flow init API endpoint to initialize a new verification flow."
    );
    assert_eq!(
        e["details"]["api"],
        format!("{}/self-service/verification/api", app.public)
    );
}

#[tokio::test]
async fn return_to_must_be_allowed() {
    let app = spawn_app().await;
    // A browser is sent to the error UI with the stored error, as Kratos forwards it (it
    // used to get the JSON envelope); JSON clients get the envelope.
    let browser = Client::new(Kind::Browser);
    let reply = browser
        .init_raw(&app, Some("https://evil.example.com/phish"))
        .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(
        reply
            .location()
            .unwrap()
            .starts_with(&format!("{}/ui/error?id=", app.public)),
        "{reply:?}"
    );
    for kind in [Kind::Api, Kind::Spa] {
        let c = Client::new(kind);
        let evil = "https://evil.example.com/phish";
        let reply = c.init_raw(&app, Some(evil)).await;
        assert_eq!(reply.status, 400, "{kind:?}: {reply:?}");
        assert_eq!(
            reply.error_id(),
            Some("self_service_flow_return_to_forbidden")
        );
        assert_eq!(
            reply.body["error"]["reason"],
            format!("Requested return_to URL \"{evil}\" is not allowed.")
        );
    }
}

#[tokio::test]
async fn disabled_verification_answers_400() {
    let app = spawn_with(|s| s.selfservice.flows.verification.enabled = false).await;
    let reason = "Verification is not allowed because it was disabled.";
    for kind in [Kind::Spa, Kind::Api] {
        let reply = Client::new(kind).init_raw(&app, None).await;
        assert_eq!(reply.status, 400, "{kind:?}: {reply:?}");
        assert_eq!(reply.body["error"]["reason"], reason);
        assert!(reply.error_id().is_none(), "no id, as in Kratos");
    }
    let reply = Client::new(Kind::Api)
        .get_flow(&app, &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["error"]["reason"], reason);
}

#[tokio::test]
async fn a_submission_needs_a_known_flow_id_in_the_query() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(format!("{}/self-service/verification", app.public))
        .header(ACCEPT, "application/json")
        .json(&serde_json::json!({"method": "code", "email": "a@example.com"}))
        .send()
        .await
        .unwrap();
    let body = json_with_status(resp, 400).await;
    assert_eq!(
        body["error"]["reason"],
        "The flow query parameter is missing or malformed."
    );
    let c = Client::new(Kind::Api);
    let reply = c
        .post(
            &app,
            &uuid::Uuid::new_v4().to_string(),
            &[("method", "code"), ("email", "a@example.com")],
        )
        .await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert_eq!(
        reply.body["error"]["reason"],
        "The verification request could not be found. Please restart the flow."
    );
}

#[tokio::test]
async fn request_classification_follows_kratos_negotiation() {
    let app = spawn_app().await;
    let url = format!("{}/self-service/verification/browser", app.public);
    for (accept, json) in [
        ("application/json, text/plain, */*", true), // axios
        ("application/json", true),
        ("*/*", false), // curl
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            false,
        ),
        ("text/html, application/json", false),
    ] {
        let resp = jar().get(&url).header(ACCEPT, accept).send().await.unwrap();
        let expected = if json { 200 } else { 303 };
        assert_eq!(resp.status().as_u16(), expected, "Accept: {accept}");
    }
}
