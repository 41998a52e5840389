//! The code strategy over time and across browsers: expired codes and flows, and the link
//! in the message (`?code=&flow=`), which pre-fills the form in whatever browser opens it.

use std::time::Duration;

use serde_json::Value;
use verity::config::GoDuration;

use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::*;

#[tokio::test]
async fn an_expired_code_replaces_the_flow_with_4070005() {
    let app =
        spawn_with(|s| s.selfservice.methods.code.config.lifespan = GoDuration::from_secs(1)).await;
    let mut pending = Vec::new();
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "expired-code");
        let identity = create_email_identity(&app, &email).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        pending.push((c, identity, flow, code));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for (c, identity, flow, code) in pending {
        let id = flow["id"].as_str().unwrap();
        let reply = c.use_code(&app, &flow, &code).await;
        if c.kind == Kind::Browser {
            assert_eq!(reply.status, 303);
            assert_ne!(reply.redirect_flow_id().unwrap(), id);
        } else {
            assert_eq!(reply.status, 410, "{reply:?}");
            assert_eq!(reply.error_id(), Some("self_service_flow_expired"));
            assert_eq!(reply.body["error"]["message"], "self-service flow expired");
            let reason = reply.body["error"]["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("The self-service flow expired 0.0"),
                "{reason}"
            );
            assert!(reply.body["expired_at"].is_string());
            assert!(reply.body["since"].as_i64().unwrap() > 0);
            assert_ne!(reply.body["use_flow_id"], id);
        }
        let new = c.resolve(&app, &reply).await;
        assert_eq!(new["type"], c.kind.flow_type());
        assert_eq!(new["state"], "choose_method");
        assert_eq!(message_ids(&new), [4070005]);
        let text = first_message(&new)["text"].as_str().unwrap();
        assert!(
            text.starts_with("The verification flow expired 0.0")
                && text.ends_with(" minutes ago, please try again."),
            "{text}"
        );
        assert!(first_message(&new)["context"]["expired_at"].is_string());
        assert_not_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn an_expired_flow_is_replaced_by_a_new_flow_of_the_same_type() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.lifespan = GoDuration::from_secs(1)).await;
    let mut pending = Vec::new();
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "expired-flow");
        create_email_identity(&app, &email).await;
        let return_to = format!("{}/back", app.public);
        let fresh = c.init_with(&app, Some(&return_to)).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        pending.push((c, email, fresh, flow, code));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for (c, email, fresh, flow, code) in pending {
        // Both an address submission and a code submission meet the expired flow.
        for (old, fields) in [
            (&fresh, vec![("method", "code"), ("email", email.as_str())]),
            (&flow, vec![("method", "code"), ("code", code.as_str())]),
        ] {
            let id = old["id"].as_str().unwrap();
            let reply = c.submit(&app, old, &fields).await;
            assert_eq!(reply.status, 303, "{reply:?}");
            let location = reply.location().unwrap();
            let new_id = reply.redirect_flow_id().unwrap();
            assert_ne!(new_id, id);
            if c.kind == Kind::Browser {
                assert_eq!(location, format!("{}?flow={new_id}", ui_url(&app)));
            } else {
                assert_eq!(
                    location,
                    format!("{}/self-service/verification/flows?id={new_id}", app.public)
                );
            }
            let new = c.flow(&app, &new_id).await;
            assert_eq!(new["type"], c.kind.flow_type(), "same flow type");
            assert_eq!(new["state"], "choose_method");
            assert_eq!(message_ids(&new), [4070005]);
            assert_eq!(new["request_url"], old["request_url"]);
            assert_eq!(new["return_to"], old["return_to"]);
        }
    }
}

#[tokio::test]
async fn the_emailed_link_prefills_the_code_without_consuming_it() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "prefill");
        let identity = create_email_identity(&app, &email).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        // A link click is a browser GET (even for api flows): always a 303 to the UI.
        let browser = Client {
            kind: Kind::Browser,
            http: c.http.clone(),
        };
        let reply = browser
            .open_link(&app, &format!("code={code}&flow={id}"))
            .await;
        assert_eq!(reply.status, 303, "{reply:?}");
        assert_eq!(
            reply.location().unwrap(),
            format!("{}?flow={id}", ui_url(&app))
        );
        let shown = c.flow(&app, &id).await;
        assert_eq!(shown["state"], "sent_email");
        assert_eq!(node(&shown, "code").unwrap()["attributes"]["value"], code);
        assert_not_verified(&app, &identity).await;
        // Not consumed: submitting it verifies.
        let reply = c.use_code(&app, &shown, &code).await;
        let done = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(done["state"], "passed_challenge");
        assert_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn a_link_opened_in_another_browser_gets_a_csrf_cookie_and_finishes() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Browser);
    let email = "other-browser@example.com";
    let identity = create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &c, email).await;
    let id = flow["id"].as_str().unwrap();

    let other = Client::new(Kind::Browser);
    let reply = other
        .open_link(&app, &format!("code={code}&flow={id}"))
        .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    let names = reply.cookie_names();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("csrf_token_"), "{names:?}");
    // The new browser can read the flow it was sent to, code filled in ...
    let shown = other.flow(&app, id).await;
    assert_eq!(node(&shown, "code").unwrap()["attributes"]["value"], code);
    // ... and finish it.
    let reply = other.use_code(&app, &shown, &code).await;
    let done = other.expect_same_flow(&app, &reply, id, 200).await;
    assert_eq!(done["state"], "passed_challenge");
    assert_verified(&app, &identity).await;
}

/// Opens `?code=&flow=` in a browser that never saw the flow and follows it to a new flow,
/// which that browser must be able to read.
async fn open_elsewhere(app: &crate::helpers::TestApp, flow_id: &str, code: &str) -> Value {
    let other = Client::new(Kind::Browser);
    let reply = other
        .open_link(app, &format!("code={code}&flow={flow_id}"))
        .await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(
        reply
            .location()
            .unwrap()
            .starts_with(&format!("{}?flow=", ui_url(app)))
    );
    assert_eq!(reply.cookie_names().len(), 1, "a CSRF cookie: {reply:?}");
    let new_id = reply.redirect_flow_id().unwrap();
    assert_ne!(new_id, flow_id, "a new flow");
    other.flow(app, &new_id).await
}

#[tokio::test]
async fn a_used_link_opened_in_another_browser_shows_a_new_flow() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Browser);
    let email = "used-link@example.com";
    create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &c, email).await;
    let id = flow["id"].as_str().unwrap();
    let reply = c.use_code(&app, &flow, &code).await;
    c.expect_same_flow(&app, &reply, id, 200).await;
    let new = open_elsewhere(&app, id, &code).await;
    assert_eq!(message_ids(&new), [4070002]);
}

#[tokio::test]
async fn an_expired_link_opened_in_another_browser_shows_a_new_flow() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.lifespan = GoDuration::from_secs(1)).await;
    let c = Client::new(Kind::Browser);
    let email = "expired-link@example.com";
    create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &c, email).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let new = open_elsewhere(&app, flow["id"].as_str().unwrap(), &code).await;
    assert_eq!(message_ids(&new), [4070005]);
}

#[tokio::test]
async fn the_browser_that_enters_the_code_sees_the_result() {
    let app = spawn_app().await;
    let a = Client::new(Kind::Browser);
    let email = "two-browsers@example.com";
    let identity = create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &a, email).await;
    let id = flow["id"].as_str().unwrap();
    // The link is opened on another device, which takes the flow over ...
    let b = Client::new(Kind::Browser);
    assert_eq!(
        b.open_link(&app, &format!("code={code}&flow={id}"))
            .await
            .status,
        303
    );
    assert_eq!(a.get_flow(&app, id).await.status, 403);
    // ... but the user types the code into the first browser, which then shows the success.
    let reply = a.use_code(&app, &flow, &code).await;
    let done = a.expect_same_flow(&app, &reply, id, 200).await;
    assert_eq!(done["state"], "passed_challenge");
    assert_verified(&app, &identity).await;
}
