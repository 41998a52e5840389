//! Phone numbers in the code strategy (Kratos master: an address without `@` is a phone
//! number and gets an SMS; messages 1080004 / 1080005; never an SMS to an unknown number).

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use verity::config::GoDuration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{spawn_app, spawn_with};
use crate::verification_support::*;

#[tokio::test]
async fn a_phone_number_gets_an_sms_code_and_1080005() {
    let app = spawn_app().await;
    let numbers = ["+4915112345671", "+4915112345672", "+4915112345673"];
    for (kind, number) in KINDS.into_iter().zip(numbers) {
        let c = Client::new(kind);
        let identity = create_phone_identity(&app, number).await;
        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        // With an SMS channel the field takes either kind of address.
        let field = node(&flow, "email").unwrap();
        assert_eq!(field["attributes"]["type"], "text");
        assert_eq!(field["meta"]["label"]["id"], 1070018);

        // Typed the way people type it; matched after E.164 normalisation.
        let typed = format!("{} {} {}", &number[..3], &number[3..6], &number[6..]);
        let reply = c.send_code(&app, &flow, &typed).await;
        let sent = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(sent["state"], "sent_email");
        assert_eq!(message_ids(&sent), [1080004]);
        assert!(
            first_message(&sent)["text"]
                .as_str()
                .unwrap()
                .starts_with("A text message containing a verification code")
        );
        let messages = wait_messages(&app, number, 1).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["type"], "sms");
        let code = messages[0]["code"].as_str().unwrap().to_owned();
        assert!(messages[0]["body"].as_str().unwrap().contains(&code));

        let reply = c.use_code(&app, &sent, &code).await;
        let done = c.expect_same_flow(&app, &reply, &id, 200).await;
        assert_eq!(done["state"], "passed_challenge");
        assert_eq!(message_ids(&done), [1080005]);
        assert_eq!(
            first_message(&done)["text"],
            "You successfully verified your phone number."
        );
        assert_eq!(first_message(&done)["type"], "success");
        assert_verified(&app, &identity).await;
        assert_eq!(address_of(&app, &identity).await["via"], "sms");
    }
}

#[tokio::test]
async fn the_sms_goes_out_through_the_configured_gateway() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let body = "function(ctx) { to: ctx.recipient, text: ctx.body }";
    let channels = json!([{"id": "sms", "type": "http", "request_config": {
        "url": format!("{}/sms", server.uri()), "method": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": format!("base64://{}", base64::engine::general_purpose::STANDARD.encode(body))}}]);
    let app = spawn_with(|s| {
        s.courier.channels = serde_json::from_value(channels).unwrap();
        s.courier.worker.pull_wait = GoDuration::from_millis(50);
    })
    .await;
    let number = "+14155550123";
    let identity = create_phone_identity(&app, number).await;
    let c = Client::new(Kind::Api);
    let flow = c.init(&app).await;
    let reply = c.send_code(&app, &flow, number).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(message_ids(&reply.body), [1080004]);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let sms: Value = loop {
        let got = server.received_requests().await.unwrap();
        if let Some(r) = got.first() {
            break serde_json::from_slice(&r.body).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway got no SMS"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(sms["to"], number);
    let text = sms["text"].as_str().unwrap();
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code in the SMS")
        .to_owned();
    let reply = c.use_code(&app, &reply.body, &code).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(message_ids(&reply.body), [1080005]);
    assert_verified(&app, &identity).await;
}

#[tokio::test]
async fn an_unknown_phone_gets_no_sms_even_with_notify_unknown_recipients() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.notify_unknown_recipients = true).await;
    let known = "+4915112345679";
    let unknown = "+4915112345670";
    create_phone_identity(&app, known).await;
    for kind in KINDS {
        let c = Client::new(kind);
        let a = c.init(&app).await;
        let b = c.init(&app).await;
        let ra = c.send_code(&app, &a, known).await;
        let rb = c.send_code(&app, &b, unknown).await;
        assert_eq!(ra.status, rb.status);
        assert_eq!(ra.cookie_names(), rb.cookie_names());
        let fa = c.resolve(&app, &ra).await;
        let fb = c.resolve(&app, &rb).await;
        assert_eq!(
            message_ids(&fb),
            [1080004],
            "the same answer as for a known number"
        );
        let ida = fa["id"].as_str().unwrap();
        let idb = fb["id"].as_str().unwrap();
        assert_eq!(
            normalize(&fa, &[(ida, "FLOW"), (known, "ADDR")]),
            normalize(&fb, &[(idb, "FLOW"), (unknown, "ADDR")])
        );
    }
    assert_eq!(outbox(&app, known).await.len(), 3);
    assert!(
        outbox(&app, unknown).await.is_empty(),
        "no SMS to an unknown number"
    );
}
