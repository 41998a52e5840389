//! The link strategy (`selfservice.flows.verification.use: link`, Kratos's
//! `selfservice/strategy/link/strategy_verification_test.go`).

use std::time::Duration;

use verity::config::{GoDuration, Settings, VerificationStrategy};

use crate::helpers::{TestApp, spawn_with};
use crate::verification_support::*;

fn link(s: &mut Settings) {
    s.selfservice.flows.verification.strategy = VerificationStrategy::Link;
    s.selfservice.methods.link.enabled = true;
}

async fn send_link(app: &TestApp, c: &Client, email: &str) -> serde_json::Value {
    let flow = c.init(app).await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let reply = c
        .submit(app, &flow, &[("method", "link"), ("email", email)])
        .await;
    c.expect_same_flow(app, &reply, &id, 200).await
}

#[tokio::test]
async fn a_link_verifies_the_address() {
    let app = spawn_with(link).await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = format!("link-{kind:?}@example.com").to_lowercase();
        let identity = create_email_identity(&app, &email).await;
        let flow = c.init(&app).await;
        assert_eq!(flow["active"], "link");
        let names: Vec<&str> = nodes(&flow)
            .iter()
            .map(|n| n["attributes"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["csrf_token", "email", "method"]);
        assert_eq!(node(&flow, "email").unwrap()["attributes"]["type"], "email");
        assert_eq!(
            node(&flow, "method").unwrap()["attributes"]["value"],
            "link"
        );

        let sent = send_link(&app, &c, &email).await;
        let id = sent["id"].as_str().unwrap().to_owned();
        assert_eq!(sent["state"], "sent_email");
        assert_eq!(message_ids(&sent), [1080001]);
        assert_eq!(node(&sent, "email").unwrap()["attributes"]["value"], email);

        let message = &wait_messages(&app, &email, 1).await[0];
        assert_eq!(message["subject"], "Please verify your email address");
        let (flow_id, token) = inbox_link(&app, &email).await;
        assert_eq!(flow_id, id);
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_not_verified(&app, &identity).await;

        // The user opens the link in a browser.
        let browser = Client {
            kind: Kind::Browser,
            http: c.http.clone(),
        };
        let reply = browser
            .open_link(&app, &format!("flow={id}&token={token}"))
            .await;
        assert_eq!(reply.status, 303, "{reply:?}");
        assert_eq!(
            reply.location().unwrap(),
            format!("{}?flow={id}", ui_url(&app))
        );
        let done = c.flow(&app, &id).await;
        assert_eq!(done["state"], "passed_challenge");
        assert_eq!(message_ids(&done), [1080002]);
        assert_eq!(node(&done, "continue").unwrap()["group"], "link");
        assert_verified(&app, &identity).await;

        // A form post on the finished flow: a new flow, always by redirect (never 410).
        let reply = c
            .submit(&app, &done, &[("method", "link"), ("email", &email)])
            .await;
        assert_eq!(reply.status, 303, "{reply:?}");
        let new_id = reply.redirect_flow_id().unwrap();
        assert_ne!(new_id, id);
        let new = c.flow(&app, &new_id).await;
        assert_eq!(message_ids(&new), [4070002]);
        assert_eq!(new["type"], kind.flow_type());
    }
}

#[tokio::test]
async fn a_link_opened_in_another_browser_verifies_and_shows_the_flow() {
    let app = spawn_with(link).await;
    let c = Client::new(Kind::Browser);
    let email = "link-other@example.com";
    let identity = create_email_identity(&app, email).await;
    let sent = send_link(&app, &c, email).await;
    let id = sent["id"].as_str().unwrap();
    let (_, token) = inbox_link(&app, email).await;
    let other = Client::new(Kind::Browser);
    let reply = other
        .open_link(&app, &format!("flow={id}&token={token}"))
        .await;
    assert_eq!(reply.status, 303);
    let names = reply.cookie_names();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("csrf_token_"));
    let shown = other.flow(&app, id).await;
    assert_eq!(shown["state"], "passed_challenge");
    assert_verified(&app, &identity).await;
}

#[tokio::test]
async fn a_bad_token_leads_to_a_new_flow_with_4070001() {
    let app = spawn_with(link).await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = &format!("link-bad-{kind:?}@example.com").to_lowercase();
        let identity = create_email_identity(&app, email).await;
        let sent = send_link(&app, &c, email).await;
        let id = sent["id"].as_str().unwrap();
        let other = send_link(&app, &c, email).await;
        let (_, other_token) = inbox_link(&app, email).await;
        for token in ["0123456789abcdefghijABCDEFGHIJ01", other_token.as_str()] {
            // Even a JSON client is redirected (the link is opened in a browser).
            let reply = c.open_link(&app, &format!("flow={id}&token={token}")).await;
            assert_eq!(reply.status, 303, "{reply:?}");
            let location = reply.location().unwrap();
            assert!(
                location.starts_with(&format!("{}?flow=", ui_url(&app))),
                "{location}"
            );
            let new_id = reply.redirect_flow_id().unwrap();
            assert_ne!(new_id, id);
            let new = c.flow(&app, &new_id).await;
            assert_eq!(message_ids(&new), [4070001]);
            assert_eq!(
                first_message(&new)["text"],
                "The verification token is invalid or has already been used. Please retry the flow."
            );
        }
        assert_eq!(c.flow(&app, id).await["state"], "sent_email");
        // The token of the other flow still works there.
        let other_id = other["id"].as_str().unwrap();
        let reply = c
            .open_link(&app, &format!("flow={other_id}&token={other_token}"))
            .await;
        assert!(matches!(reply.status, 200 | 303), "{reply:?}");
        assert_eq!(c.flow(&app, other_id).await["state"], "passed_challenge");
        // Used once, dead after.
        let reply = c
            .open_link(&app, &format!("flow={other_id}&token={other_token}"))
            .await;
        assert_eq!(reply.status, 303);
        assert_ne!(reply.redirect_flow_id().unwrap(), other_id);
        assert_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn an_expired_token_leads_to_a_new_flow_with_4070005() {
    let app = spawn_with(|s| {
        link(s);
        s.selfservice.methods.link.config.lifespan = GoDuration::from_secs(1);
    })
    .await;
    let email = "link-expired@example.com";
    let identity = create_email_identity(&app, email).await;
    let c = Client::new(Kind::Browser);
    let sent = send_link(&app, &c, email).await;
    let id = sent["id"].as_str().unwrap();
    let (_, token) = inbox_link(&app, email).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = c.open_link(&app, &format!("flow={id}&token={token}")).await;
    assert_eq!(reply.status, 303);
    let new_id = reply.redirect_flow_id().unwrap();
    assert_ne!(new_id, id);
    let new = c.flow(&app, &new_id).await;
    assert_eq!(message_ids(&new), [4070005]);
    assert!(
        first_message(&new)["text"]
            .as_str()
            .unwrap()
            .contains("The verification flow expired")
    );
    assert_not_verified(&app, &identity).await;
}

#[tokio::test]
async fn link_form_errors_and_unknown_addresses() {
    let app = spawn_with(|s| {
        link(s);
        s.selfservice.flows.verification.notify_unknown_recipients = true;
    })
    .await;
    for kind in KINDS {
        let c = Client::new(kind);
        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        let reply = c.submit(&app, &flow, &[("method", "link")]).await;
        let after = c.expect_same_flow(&app, &reply, &id, 400).await;
        assert_eq!(node_message_ids(&after, "email"), [4000002]);
        let reply = c
            .submit(&app, &flow, &[("method", "link"), ("email", "asdf")])
            .await;
        let after = c.expect_same_flow(&app, &reply, &id, 400).await;
        assert_eq!(node_message_ids(&after, "email"), [4000040]);
        // A method other than the flow's: no strategy is responsible.
        let reply = c
            .submit(
                &app,
                &flow,
                &[("method", "code"), ("email", "x@example.com")],
            )
            .await;
        let after = c.expect_same_flow(&app, &reply, &id, 400).await;
        assert_eq!(message_ids(&after), [4010006]);
        assert_eq!(
            first_message(&after)["text"],
            "Could not find a strategy to verify your account with. Did you fill out the form correctly?"
        );

        let unknown = format!("nobody-{kind:?}@example.com").to_lowercase();
        let sent = send_link(&app, &c, &unknown).await;
        assert_eq!(message_ids(&sent), [1080001]);
        let messages = wait_messages(&app, &unknown, 1).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0]["subject"],
            "Someone tried to verify this email address"
        );
        assert!(!messages[0]["body"].as_str().unwrap().contains("token="));
    }
}
