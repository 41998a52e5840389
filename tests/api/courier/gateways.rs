//! SMS and voice through HTTP gateways, with wiremock standing in for Twilio, Vonage and a
//! generic Jsonnet-templated endpoint, checking the request formats.

use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use verity::courier::Channel;

use super::{admin_message, enqueue, secs, worker};
use crate::helpers::{TestApp, spawn_with};

async fn app_with_channels(channels: Value) -> TestApp {
    spawn_with(|s| {
        s.courier.worker.enabled = false;
        s.courier.channels = serde_json::from_value(channels).unwrap();
    })
    .await
}

fn form(req: &wiremock::Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

fn field(pairs: &[(String, String)], k: &str) -> String {
    pairs
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn twilio_preset_sends_sms_through_messages_and_voice_through_calls() {
    let server = MockServer::start().await;
    for endpoint in ["Messages", "Calls"] {
        Mock::given(method("POST"))
            .and(path(format!("/2010-04-01/Accounts/AC123/{endpoint}.json")))
            .and(basic_auth("AC123", "tw-token"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1", "status": "queued"})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let preset = |id: &str| {
        json!({"id": id, "type": "http", "preset": {"provider": "twilio", "account_sid": "AC123",
        "auth_token": "tw-token", "from": "+15550001111", "base_url": server.uri()}})
    };
    let app = app_with_channels(json!([preset("sms"), preset("voice")])).await;
    let now = Utc::now();
    let sms = enqueue(&app, Channel::Sms, "+4915112345678", "864209", None, now).await;
    let call = enqueue(&app, Channel::Voice, "+4915112345678", "864209", None, now).await;
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 2);

    let reqs = server.received_requests().await.unwrap();
    let sms_req = reqs
        .iter()
        .find(|r| r.url.path().ends_with("Messages.json"))
        .unwrap();
    let f = form(sms_req);
    assert_eq!(field(&f, "To"), "+4915112345678");
    assert_eq!(field(&f, "From"), "+15550001111");
    assert!(field(&f, "Body").starts_with("Your verification code is: 864209"));
    let call_req = reqs
        .iter()
        .find(|r| r.url.path().ends_with("Calls.json"))
        .unwrap();
    let twiml = field(&form(call_req), "Twiml");
    assert!(
        twiml.starts_with("<Response><Say>Your verification code is: 8 6 4 2 0 9."),
        "{twiml}"
    );
    assert!(twiml.ends_with("</Say></Response>"));
    for id in [sms, call] {
        let m = admin_message(&app, id).await;
        assert_eq!(m["status"], "sent");
        assert_eq!(m["type"], if id == sms { "sms" } else { "voice" });
    }
}

#[tokio::test]
async fn vonage_preset_posts_the_sms_api_and_reads_its_per_message_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(body_string_contains("to=4915112345678"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"message-count": "1", "messages": [{"status": "0", "message-id": "m1"}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(body_string_contains("to=4915100000000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message-count": "1", "messages": [{"status": "6", "error-text": "Unroutable message"}]})))
        .mount(&server)
        .await;
    let app = app_with_channels(
        json!([{"id": "sms", "type": "http", "preset": {"provider": "vonage", "api_key": "vk",
        "api_secret": "vs", "from": "Verity", "base_url": server.uri()}}]),
    )
    .await;
    let now = Utc::now();
    let ok = enqueue(&app, Channel::Sms, "+4915112345678", "531246", None, now).await;
    let bad = enqueue(&app, Channel::Sms, "+4915100000000", "531246", None, now).await;
    let r = worker(&app).dispatch_once(now).await.unwrap();
    assert_eq!((r.sent, r.abandoned), (1, 1));
    let reqs = server.received_requests().await.unwrap();
    let f = form(
        reqs.iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains("4915112345678"))
            .unwrap(),
    );
    assert_eq!(
        (
            field(&f, "api_key"),
            field(&f, "api_secret"),
            field(&f, "from")
        ),
        ("vk".into(), "vs".into(), "Verity".into())
    );
    assert!(field(&f, "text").contains("531246"));
    assert_eq!(admin_message(&app, ok).await["status"], "sent");
    let m = admin_message(&app, bad).await;
    assert_eq!(m["status"], "abandoned");
    assert!(m["last_error"].as_str().unwrap().contains("Unroutable"));
}

fn generic(url: String) -> Value {
    let body = "function(ctx) { to: ctx.recipient, text: ctx.body, code: ctx.template_data.verification_code, kind: ctx.message_type }";
    json!([{"id": "sms", "type": "http", "request_config": {
        "url": url, "method": "POST", "headers": {"Content-Type": "application/json"},
        "body": format!("base64://{}", base64::engine::general_purpose::STANDARD.encode(body)),
        "auth": {"type": "api_key", "config": {"name": "X-API-Key", "value": "k-123", "in": "header"}}}}])
}

#[tokio::test]
async fn generic_request_config_renders_jsonnet_and_treats_202_as_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("x-api-key", "k-123"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_with_channels(generic(format!("{}/send", server.uri()))).await;
    let now = Utc::now();
    let id = enqueue(&app, Channel::Sms, "+4915112345678", "902117", None, now).await;
    assert_eq!(worker(&app).dispatch_once(now).await.unwrap().sent, 1);
    let req = &server.received_requests().await.unwrap()[0];
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["to"], "+4915112345678");
    assert_eq!(body["code"], "902117");
    assert_eq!(body["kind"], "sms");
    assert!(body["text"].as_str().unwrap().contains("902117"));
    assert_eq!(admin_message(&app, id).await["status"], "sent");
}

#[tokio::test]
async fn gateway_429_honours_retry_after_5xx_retries_and_4xx_fails_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(body_string_contains("+4915111111111"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(body_string_contains("+4915122222222"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(body_string_contains("+4915133333333"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let app = app_with_channels(generic(format!("{}/send", server.uri()))).await;
    let now = Utc::now();
    let limited = enqueue(&app, Channel::Sms, "+4915111111111", "1", None, now).await;
    let flaky = enqueue(&app, Channel::Sms, "+4915122222222", "2", None, now).await;
    let rejected = enqueue(&app, Channel::Sms, "+4915133333333", "3", None, now).await;
    let w = worker(&app);
    let r = w.dispatch_once(now).await.unwrap();
    assert_eq!((r.retried, r.abandoned), (2, 1));
    let m = admin_message(&app, rejected).await;
    assert_eq!(
        (m["status"].as_str(), m["send_count"].as_i64()),
        (Some("abandoned"), Some(1))
    );
    let next: chrono::DateTime<Utc> = admin_message(&app, limited).await["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next >= now + secs(30), "Retry-After: 30 is honoured");
    let r = w.dispatch_once(now + secs(5)).await.unwrap();
    assert_eq!(
        (r.claimed, r.sent),
        (1, 1),
        "the 5xx message is retried after its short backoff"
    );
    assert_eq!(admin_message(&app, flaky).await["status"], "sent");
    assert_eq!(w.dispatch_once(now + secs(29)).await.unwrap().claimed, 0);
    assert_eq!(w.dispatch_once(now + secs(31)).await.unwrap().sent, 1);
    assert_eq!(admin_message(&app, limited).await["status"], "sent");
}
