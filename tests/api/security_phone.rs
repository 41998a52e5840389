//! The SMS policy and the per-number failure budget in the partner phone API (issue 15.1):
//! refused numbers, daily caps, wrong codes across requests, and the voice fallback.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use verity::phone::SendSms;

use crate::auth_support::{FlowClient, PASSWORD};
use crate::helpers::json_with_status;
use crate::phone_support::{Key, Phone, code_in, spawn_phone, spawn_phone_postgres};
use crate::verification_support::Kind;

async fn send(p: &Phone, k: &Key, number: &str) -> reqwest::Response {
    p.post("/fraud/send-sms", Some(k), &json!({"phone_number": number}))
        .await
}

async fn verify(p: &Phone, k: &Key, id: &str, code: &str) -> reqwest::Response {
    let body = json!({"request_id": id, "received_code": code});
    p.post("/fraud/verify-sms", Some(k), &body).await
}

#[tokio::test]
async fn premium_satellite_and_shared_cost_numbers_are_refused_and_cost_nothing() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(10).await;
    for number in [
        "+449091234567", // UK premium rate
        "+19005551234",  // US premium rate
        "+447012345678", // UK personal number
        "+881612345678", // satellite
        "+979123456789", // international premium rate
        "+80812345678",  // international shared cost
    ] {
        let body = json_with_status(send(&p, &k, number).await, 400).await;
        assert_eq!(body["error"]["details"]["field"], "phone_number", "{body}");
        assert_eq!(body["error"]["details"]["rule"], "sms_policy", "{body}");
    }
    assert_eq!(p.credits(k.id).await, 10, "no credit spent");
    assert_eq!(p.outbox_len().await, 0, "nothing queued");
    json_with_status(send(&p, &k, "+12025550163").await, 200).await;
}

#[tokio::test]
async fn countries_outside_the_allow_list_are_refused() {
    let p = spawn_phone(|s| s.protection.sms.allowed_countries = vec!["DE".into()]).await;
    let k = p.key(10).await;
    json_with_status(send(&p, &k, "+12025550163").await, 400).await;
    json_with_status(send(&p, &k, "+4915112345678").await, 200).await;
}

#[tokio::test]
async fn the_range_cap_answers_429_once_a_range_has_had_its_day() {
    let p = spawn_phone(|s| s.protection.sms.daily_limit_per_range = 2).await;
    let k = p.key(10).await;
    for n in ["+4915112345001", "+4915112345002"] {
        json_with_status(send(&p, &k, n).await, 200).await;
    }
    let resp = send(&p, &k, "+4915112345003").await;
    assert!(resp.headers().contains_key("retry-after"));
    json_with_status(resp, 429).await;
    json_with_status(send(&p, &k, "+4915112346003").await, 200).await;
    assert_eq!(p.credits(k.id).await, 7);
}

/// Wrong codes count per number across requests: after the day's budget even a right code
/// in a fresh request answers 429.
async fn failure_budget_spans_requests(p: Phone) {
    let k = p.key(10).await;
    let number = "+12025550163";
    let mut wrong_for = Vec::new();
    for _ in 0..2 {
        let body = json_with_status(send(&p, &k, number).await, 200).await;
        let id = body["request_id"].as_str().unwrap().to_owned();
        let code = code_in(&p.deliver(Utc::now()).await[0].1);
        let wrong = if code == "0000" { "1111" } else { "0000" };
        wrong_for.push((id, code, wrong));
    }
    // Budget 4: three wrong codes on the first request, one on the second.
    let (first, _, wrong) = &wrong_for[0];
    for _ in 0..3 {
        let v: Value = json_with_status(verify(&p, &k, first, wrong).await, 200).await;
        assert_eq!(v["is_verified"], false);
    }
    let (second, right, wrong) = &wrong_for[1];
    let v = json_with_status(verify(&p, &k, second, wrong).await, 200).await;
    assert_eq!(v["is_verified"], false);
    let refused = verify(&p, &k, second, right).await;
    assert!(refused.headers().contains_key("retry-after"));
    json_with_status(refused, 429).await;
    // Another number keeps its own budget.
    let body = json_with_status(send(&p, &k, "+12025550164").await, 200).await;
    let id = body["request_id"].as_str().unwrap();
    let code = code_in(&p.deliver(Utc::now()).await[0].1);
    let v = json_with_status(verify(&p, &k, id, &code).await, 200).await;
    assert_eq!(v["is_verified"], true);
}

fn budget_of_four(s: &mut verity::config::Settings) {
    s.selfservice.rate_limits.phone_failures_per_number_day = 4;
}

#[tokio::test]
async fn failure_budget_spans_requests_sqlite() {
    failure_budget_spans_requests(spawn_phone(budget_of_four).await).await;
}

#[tokio::test]
async fn failure_budget_spans_requests_postgres() {
    if let Some(p) = spawn_phone_postgres(budget_of_four).await {
        failure_budget_spans_requests(p).await;
    }
}

/// The voice fallback is a message too: when the day's global cap is spent by the SMS, the
/// call is not placed and the fallback is cancelled.
async fn capped_fallback_is_cancelled(p: Phone) {
    let k = p.key(5).await;
    let svc = &p.app.registry.phone;
    // Both instants inside one UTC day: the day's cap is a fixed window, and a test run just
    // before midnight would otherwise see the next day's fresh budget.
    let t0 = Utc::now()
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .unwrap()
        .and_utc();
    let req = SendSms {
        phone_number: "+12025550163".into(),
        sender_name: "Verity".into(),
    };
    svc.send(k.id, &req, t0).await.unwrap();
    p.deliver(t0).await;
    let t1 = t0 + Duration::minutes(2);
    assert_eq!(svc.run_due_fallbacks(t1).await.unwrap(), 0, "no call");
    assert!(p.deliver(t1).await.is_empty());
    let (rows, _) = p.app.store().list_phone_requests(10).await.unwrap();
    assert_eq!(rows[0].next_step_at, None, "the fallback is cancelled");
}

#[tokio::test]
async fn capped_fallback_is_cancelled_sqlite() {
    capped_fallback_is_cancelled(spawn_phone(|s| s.protection.sms.daily_limit_global = 1).await)
        .await;
}

#[tokio::test]
async fn capped_fallback_is_cancelled_postgres() {
    if let Some(p) = spawn_phone_postgres(|s| s.protection.sms.daily_limit_global = 1).await {
        capped_fallback_is_cancelled(p).await;
    }
}

/// A sign-up naming a taken number answers like a new one and sends nothing: the number's
/// owner gets no SMS (each probe would cost money), only a decoy stored `abandoned`.
#[tokio::test]
async fn a_taken_number_at_sign_up_is_answered_alike_and_texted_nothing() {
    let p = spawn_phone(|s| s.identity.default_schema_id = "phone".into()).await;
    let app = &p.app;
    let number = "+4915112345678";
    let c = FlowClient::new(Kind::Api);
    let sign_up = || async {
        let flow = c.init(app, "registration").await;
        let body = json!({"method": "password", "password": PASSWORD, "traits": {"phone": number}});
        let r = c.submit(app, "registration", &flow, body).await;
        (r.status, r.body)
    };
    let (first, a) = sign_up().await;
    let (second, b) = sign_up().await;
    assert_eq!((first, second), (200, 200), "{a}\n{b}");
    assert_eq!(
        a["continue_with"][0]["action"],
        b["continue_with"][0]["action"]
    );
    let sent = crate::verification_support::outbox(app, number).await;
    assert_eq!(sent.len(), 1, "only the first sign-up's code: {sent:?}");
    let decoys = crate::verification_support::decoys(app, number).await;
    assert_eq!(
        decoys.len(),
        2,
        "the taken sign-up's decoy and its flow's: {decoys:?}"
    );
    let all = app.store().list_identities(None, 10, None).await.unwrap();
    assert_eq!(all.identities.len(), 1);
}
