//! The code strategy's submission matrix, each case for a browser
//! (form posts, 303s), a single-page app (browser flow, JSON) and a native app (api flow).
//! Expiry and links from messages are in `verification_code_flows`, form errors and
//! resends in `verification_code_forms`.

use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::*;

#[tokio::test]
async fn happy_path_verifies_the_address_for_browser_spa_and_api() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "happy");
        let identity = create_email_identity(&app, &email).await;

        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        assert_eq!(flow["type"], kind.flow_type());
        assert_eq!(flow["state"], "choose_method");
        assert_eq!(flow["active"], "code");
        assert_eq!(
            flow["ui"]["action"],
            format!("{}/self-service/verification?flow={id}", app.public)
        );
        assert_eq!(flow["ui"]["method"], "POST");
        assert!(flow["ui"].get("messages").is_none(), "no messages yet");
        let names: Vec<&str> = nodes(&flow)
            .iter()
            .map(|n| n["attributes"]["name"].as_str().unwrap())
            .collect();
        if kind == Kind::Api {
            assert_eq!(names, ["email", "method"], "api flows carry no csrf node");
        } else {
            assert_eq!(names, ["email", "method", "csrf_token"]);
            assert!(!csrf_of(&flow).unwrap().is_empty());
        }

        let reply = c.send_code(&app, &flow, &email).await;
        if kind == Kind::Api {
            assert!(reply.cookie_names().is_empty(), "api flows set no cookie");
        }
        let sent_flow = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(sent_flow["state"], "sent_email");
        assert_eq!(message_ids(&sent_flow), [1080003]);
        let code_node = node(&sent_flow, "code").expect("code node");
        assert_eq!(code_node["attributes"]["required"], true);
        assert_eq!(code_node["meta"]["label"]["id"], 1070011);
        let resend = nodes(&sent_flow)
            .iter()
            .find(|n| n["attributes"]["name"] == "email")
            .unwrap();
        assert_eq!(resend["attributes"]["type"], "submit");
        assert_eq!(resend["attributes"]["value"], email.as_str());
        assert_eq!(resend["meta"]["label"]["id"], 1070008);

        let message = &wait_messages(&app, &email, 1).await[0];
        let code = message["code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let body = message["body"].as_str().unwrap();
        assert!(body.contains(&code), "{body}");
        assert!(
            body.contains(&format!(
                "{}/self-service/verification?code={code}&flow={id}",
                app.public
            )),
            "the message links to the flow with the code: {body}"
        );
        assert_eq!(address_of(&app, &identity).await["status"], "sent");

        let reply = c.use_code(&app, &sent_flow, &code).await;
        let done = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(done["state"], "passed_challenge");
        assert_eq!(message_ids(&done), [1080002]);
        assert_eq!(first_message(&done)["type"], "success");
        assert_eq!(
            first_message(&done)["text"],
            "You successfully verified your email address."
        );
        let default = &app.registry.settings.selfservice.default_browser_return_url;
        assert_eq!(done["ui"]["method"], "GET");
        assert_eq!(done["ui"]["action"], default.as_str());
        let anchor = node(&done, "continue").expect("continue anchor");
        assert_eq!(anchor["type"], "a");
        assert_eq!(anchor["attributes"]["href"], default.as_str());
        assert_eq!(anchor["meta"]["label"]["id"], 1070009);
        assert_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn continue_points_at_return_to_or_the_configured_default() {
    let after = "http://127.0.0.1:4433/after-verification";
    let app = spawn_with(|s| {
        s.selfservice
            .flows
            .verification
            .after
            .default_browser_return_url = Some(after.into());
    })
    .await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "return");
        create_email_identity(&app, &email).await;
        let return_to = format!("{}/dashboard?tab=1", app.public);
        let flow = c.init_with(&app, Some(&return_to)).await;
        assert_eq!(flow["return_to"], return_to.as_str());
        let id = flow["id"].as_str().unwrap().to_owned();
        let reply = c.send_code(&app, &flow, &email).await;
        let flow = c.expect_same_flow(&app, &reply, &id, 200).await;
        let reply = c
            .use_code(&app, &flow, &inbox_code(&app, &email).await)
            .await;
        let done = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(
            node(&done, "continue").unwrap()["attributes"]["href"],
            return_to.as_str()
        );
        assert_eq!(done["ui"]["action"], return_to.as_str());

        // Without return_to: selfservice.flows.verification.after.default_browser_return_url.
        let email = kind_address(kind, "after");
        create_email_identity(&app, &email).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        let reply = c.use_code(&app, &flow, &code).await;
        let done = c.resolve(&app, &reply).await;
        assert_eq!(
            node(&done, "continue").unwrap()["attributes"]["href"],
            after
        );
    }
}

#[tokio::test]
async fn a_wrong_code_keeps_the_flow_and_answers_4070006() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "wrong");
        let identity = create_email_identity(&app, &email).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap();
        let reply = c.use_code(&app, &flow, &wrong(&code)).await;
        let after = c.expect_same_flow(&app, &reply, id, 200).await;
        assert_eq!(after["state"], "sent_email");
        assert_eq!(message_ids(&after), [4070006]);
        assert_eq!(
            first_message(&after)["text"],
            "The verification code is invalid or has already been used. Please try again."
        );
        assert_eq!(first_message(&after)["type"], "error");
        assert_not_verified(&app, &identity).await;
        // The right code still works afterwards.
        let reply = c.use_code(&app, &after, &code).await;
        let done = c.expect_same_flow(&app, &reply, id, 200).await;
        assert_eq!(done["state"], "passed_challenge");
        assert_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn a_code_of_another_flow_is_invalid() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Api);
    let email = "two-flows@example.com";
    let identity = create_email_identity(&app, email).await;
    let (first, code) = sent_code(&app, &c, email).await;
    let other = c.init(&app).await;
    let reply = c.use_code(&app, &other, &code).await;
    assert_eq!(reply.status, 200);
    assert_eq!(message_ids(&reply.body), [4070006]);
    assert_not_verified(&app, &identity).await;
    let reply = c.use_code(&app, &first, &code).await;
    assert_eq!(reply.body["state"], "passed_challenge");
}

#[tokio::test]
async fn a_reused_code_replaces_the_flow() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "reuse");
        create_email_identity(&app, &email).await;
        let (flow, code) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap();
        let reply = c.use_code(&app, &flow, &code).await;
        c.expect_same_flow(&app, &reply, id, 200).await;

        let again = c.use_code(&app, &flow, &code).await;
        if kind.is_json() {
            assert_eq!(
                again.body["error"]["reason"],
                "An error occured, please use the new flow."
            );
            assert!(again.body["use_flow_id"].is_string());
        }
        let new = c.expect_replaced(&app, &again, id).await;
        assert_eq!(message_ids(&new), [4070002]);
        // The old flow is still the completed one.
        assert_eq!(c.flow(&app, id).await["state"], "passed_challenge");
    }
}

#[tokio::test]
async fn the_sixth_submission_fails_even_with_the_right_code() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "brute");
        let identity = create_email_identity(&app, &email).await;
        let (mut flow, code) = sent_code(&app, &c, &email).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        for _ in 0..5 {
            let reply = c.use_code(&app, &flow, &wrong(&code)).await;
            flow = c.expect_same_flow(&app, &reply, &id, 200).await;
            assert_eq!(message_ids(&flow), [4070006]);
        }
        let reply = c.use_code(&app, &flow, &code).await;
        if kind.is_json() {
            assert_eq!(
                reply.body["error"]["reason"],
                "An error occured, please retry the flow."
            );
        }
        let new = c.expect_replaced(&app, &reply, &id).await;
        assert_eq!(message_ids(&new), [4000001]);
        assert_eq!(
            first_message(&new)["text"],
            "The request was submitted too often. Please request another code."
        );
        assert!(node(&new, "email").is_some(), "a fresh address field");
        assert_not_verified(&app, &identity).await;
    }
}

#[tokio::test]
async fn max_submissions_is_configurable() {
    let app = spawn_with(|s| s.selfservice.methods.code.config.max_submissions = 2).await;
    let c = Client::new(Kind::Api);
    let email = "two-tries@example.com";
    create_email_identity(&app, email).await;
    let (flow, code) = sent_code(&app, &c, email).await;
    for _ in 0..2 {
        let reply = c.use_code(&app, &flow, &wrong(&code)).await;
        assert_eq!(message_ids(&reply.body), [4070006]);
    }
    let reply = c.use_code(&app, &flow, &code).await;
    c.expect_replaced(&app, &reply, flow["id"].as_str().unwrap())
        .await;
}

#[tokio::test]
async fn an_already_verified_address_can_be_verified_again() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Spa);
    let email = "twice@example.com";
    let identity = create_email_identity(&app, email).await;
    for round in 1..=2 {
        let (flow, code) = sent_code(&app, &c, email).await;
        let reply = c.use_code(&app, &flow, &code).await;
        assert_eq!(reply.status, 200, "round {round}: {reply:?}");
        assert_eq!(reply.body["state"], "passed_challenge");
        assert_verified(&app, &identity).await;
    }
}
