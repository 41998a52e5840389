//! The partner phone-verification API (seeds 001 and 002): iDenfy's send-sms / verify-sms
//! with their documented examples, every constraint, credits, limits, concurrency, the SMS
//! and calls as they reach a Twilio stand-in, and the voice-fallback timeline.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use verity::phone::{SendSms, VerifySms};

use crate::helpers::json_with_status;
use crate::phone_support::{Key, Phone, code_in, spawn_phone};

async fn send(p: &Phone, k: &Key, body: Value) -> reqwest::Response {
    p.post("/fraud/send-sms", Some(k), &body).await
}

async fn verify(p: &Phone, k: &Key, id: &str, code: &str) -> Value {
    let resp = p
        .post(
            "/fraud/verify-sms",
            Some(k),
            &json!({"request_id": id, "received_code": code}),
        )
        .await;
    json_with_status(resp, 200).await
}

async fn vpost(p: &Phone, k: &Key, body: Value) -> reqwest::Response {
    p.post("/fraud/verify-sms", Some(k), &body).await
}

async fn assert_400(resp: reqwest::Response, field: &str, rule: &str) {
    let body = json_with_status(resp, 400).await;
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["status"], "Bad Request");
    assert_eq!(body["error"]["details"]["field"], field, "{body}");
    assert_eq!(body["error"]["details"]["rule"], rule, "{body}");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{field}: "))
    );
}

#[tokio::test]
async fn seed_example_request_sms_text_and_verification() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    // Seed 001, step 1, verbatim.
    let resp = send(
        &p,
        &k,
        json!({"phone_number": "+12025550163", "sender_name": "The Sender"}),
    )
    .await;
    let body = json_with_status(resp, 200).await;
    let id = body["request_id"].as_str().unwrap().to_owned();
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only request_id: {body}"
    );
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let sent = p.deliver(Utc::now()).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "sms");
    let code = code_in(&sent[0].1);
    assert_eq!(
        sent[0].1,
        format!("The Sender code: {code}. Valid for 5 minutes.")
    );
    // Seed 001, step 2: {"is_verified": true}, and then false (already validated).
    assert_eq!(
        verify(&p, &k, &id, &code).await,
        json!({"is_verified": true})
    );
    assert_eq!(
        verify(&p, &k, &id, &code).await,
        json!({"is_verified": false})
    );
    assert_eq!(p.credits(k.id).await, 4);
}

#[tokio::test]
async fn default_sender_name_comes_from_config() {
    let p = spawn_phone(|s| s.phone_verification.default_sender_name = "Acme".into()).await;
    let k = p.key(1).await;
    json_with_status(
        send(&p, &k, json!({"phone_number": "+4915112345678"})).await,
        200,
    )
    .await;
    let sent = p.deliver(Utc::now()).await;
    assert!(sent[0].1.starts_with("Acme code: "), "{}", sent[0].1);
}

#[tokio::test]
async fn every_constraint_answers_400_naming_field_and_rule_and_spends_nothing() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    assert_400(send(&p, &k, json!({})).await, "phone_number", "required").await;
    assert_400(
        send(&p, &k, json!({"phone_number": "02025550163"})).await,
        "phone_number",
        "e164",
    )
    .await;
    assert_400(
        send(&p, &k, json!({"phone_number": "+1 202 555 0163"})).await,
        "phone_number",
        "e164",
    )
    .await;
    assert_400(
        send(&p, &k, json!({"phone_number": 12025550163_i64})).await,
        "phone_number",
        "type",
    )
    .await;
    let long = json!({"phone_number": "+12025550163", "sender_name": "TwelveChars!"});
    assert_400(send(&p, &k, long).await, "sender_name", "max_length").await;
    let ok = json!({"phone_number": "+12025550163", "sender_name": "ElevenChars"});
    json_with_status(send(&p, &k, ok).await, 200).await;
    assert_eq!(
        p.credits(k.id).await,
        4,
        "only the valid request spent a credit"
    );
    assert_eq!(p.outbox_len().await, 1);

    assert_400(
        vpost(&p, &k, json!({"received_code": "1234"})).await,
        "request_id",
        "required",
    )
    .await;
    let short = "a".repeat(31);
    assert_400(
        vpost(
            &p,
            &k,
            json!({"request_id": short, "received_code": "1234"}),
        )
        .await,
        "request_id",
        "length",
    )
    .await;
    let long = "a".repeat(41);
    assert_400(
        vpost(&p, &k, json!({"request_id": long, "received_code": "1234"})).await,
        "request_id",
        "length",
    )
    .await;
    let id = "3d50e1584e0946e789e0185c009aaadf";
    assert_400(
        vpost(&p, &k, json!({"request_id": id})).await,
        "received_code",
        "required",
    )
    .await;
    for bad in ["123", "12345", "12a4", "١٢٣٤"] {
        assert_400(
            vpost(&p, &k, json!({"request_id": id, "received_code": bad})).await,
            "received_code",
            "length",
        )
        .await;
    }
    // 40 characters is allowed; an unknown id is just false (no oracle).
    let forty = "b".repeat(40);
    assert_eq!(
        verify(&p, &k, &forty, "1234").await,
        json!({"is_verified": false})
    );
    assert_eq!(
        verify(&p, &k, id, "1234").await,
        json!({"is_verified": false})
    );
}

#[tokio::test]
async fn wrong_or_missing_credentials_answer_401() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    let body = json!({"phone_number": "+12025550163"});
    let resp = p.post("/fraud/send-sms", None, &body).await;
    let e = json_with_status(resp, 401).await;
    assert_eq!(e["error"]["code"], 401);
    let wrong = Key {
        id: k.id,
        key: k.key.clone(),
        secret: "0".repeat(64),
    };
    json_with_status(send(&p, &wrong, body.clone()).await, 401).await;
    let unknown = Key {
        id: k.id,
        key: "vk_unknown".into(),
        secret: k.secret.clone(),
    };
    json_with_status(send(&p, &unknown, body.clone()).await, 401).await;
    let resp = p.post("/fraud/verify-sms", Some(&wrong), &json!({})).await;
    json_with_status(resp, 401).await;
    // Revoked keys stop working.
    let resp = p
        .app
        .http
        .delete(format!("{}/admin/api-keys/{}", p.app.admin, k.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    json_with_status(send(&p, &k, body).await, 401).await;
    assert_eq!(p.outbox_len().await, 0);
}

#[tokio::test]
async fn no_credits_answers_402_sends_nothing_and_top_up_restores() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(1).await;
    let body = json!({"phone_number": "+12025550163"});
    json_with_status(send(&p, &k, body.clone()).await, 200).await;
    let e = json_with_status(send(&p, &k, body.clone()).await, 402).await;
    assert_eq!(e["error"]["code"], 402);
    assert!(e["error"]["reason"].as_str().unwrap().contains("credits"));
    assert_eq!(
        p.outbox_len().await,
        1,
        "nothing queued for the refused send"
    );
    assert_eq!(p.credits(k.id).await, 0);
    let resp = p
        .app
        .post_admin(
            &format!("/admin/api-keys/{}/credits", k.id),
            &json!({"add": 2}),
        )
        .await;
    assert_eq!(json_with_status(resp, 200).await["credits"], 2);
    json_with_status(send(&p, &k, body).await, 200).await;
    assert_eq!(p.credits(k.id).await, 1);
    // The listing never shows a secret.
    let list = json_with_status(p.app.get_admin("/admin/api-keys").await, 200).await;
    assert_eq!(list[0]["key"], k.key.as_str());
    assert!(list[0].get("secret").is_none() && list[0].get("secret_hash").is_none());
}

#[tokio::test]
async fn per_number_limit_answers_429_with_retry_after_and_spends_no_credit() {
    let p = spawn_phone(|s| s.selfservice.rate_limits.phone_sends_per_number_10m = 2).await;
    let k = p.key(10).await;
    let body = json!({"phone_number": "+12025550163"});
    for _ in 0..2 {
        json_with_status(send(&p, &k, body.clone()).await, 200).await;
    }
    let resp = send(&p, &k, body).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry));
    assert_eq!(json_with_status(resp, 429).await["error"]["code"], 429);
    assert_eq!(p.credits(k.id).await, 8);
    assert_eq!(p.outbox_len().await, 2);
    // Another number is not limited.
    json_with_status(
        send(&p, &k, json!({"phone_number": "+12025550164"})).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn too_many_wrong_codes_and_other_keys_get_false() {
    let p = spawn_phone(|_| {}).await;
    let (k, other) = (p.key(5).await, p.key(5).await);
    let body = json_with_status(
        send(&p, &k, json!({"phone_number": "+12025550163"})).await,
        200,
    )
    .await;
    let id = body["request_id"].as_str().unwrap().to_owned();
    let code = code_in(&p.deliver(Utc::now()).await[0].1);
    let wrong = if code == "0000" { "1111" } else { "0000" };
    assert_eq!(
        verify(&p, &other, &id, &code).await["is_verified"],
        false,
        "another key's request"
    );
    for _ in 0..3 {
        assert_eq!(verify(&p, &k, &id, wrong).await["is_verified"], false);
    }
    assert_eq!(
        verify(&p, &k, &id, &code).await["is_verified"],
        false,
        "budget spent"
    );
    let list = json_with_status(p.app.get_admin("/admin/phone-verifications").await, 200).await;
    assert_eq!(list[0]["status"], "failed");
}

#[tokio::test]
async fn concurrent_right_codes_give_exactly_one_true() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    let body = json_with_status(
        send(&p, &k, json!({"phone_number": "+12025550163"})).await,
        200,
    )
    .await;
    let id = body["request_id"].as_str().unwrap().to_owned();
    let code = code_in(&p.deliver(Utc::now()).await[0].1);
    let calls = (0..8).map(|_| verify(&p, &k, &id, &code));
    let results = futures_util::future::join_all(calls).await;
    let trues = results.iter().filter(|v| v["is_verified"] == true).count();
    assert_eq!(trues, 1, "{results:?}");
}

#[tokio::test]
async fn voice_fallback_timeline_with_explicit_times() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    let svc = &p.app.registry.phone;
    let t0 = Utc::now();
    let req = SendSms {
        phone_number: "+12025550163".into(),
        sender_name: "The Sender".into(),
    };
    let id = svc.send(k.id, &req, t0).await.unwrap();
    let sms = p.deliver(t0).await;
    let code1 = code_in(&sms[0].1);
    let v = |code: &str| VerifySms {
        request_id: id.clone(),
        received_code: code.into(),
    };

    assert_eq!(
        svc.run_due_fallbacks(t0 + Duration::seconds(119))
            .await
            .unwrap(),
        0
    );
    // Two minutes without confirmation: a call with the same code, valid 3 more minutes.
    let t1 = t0 + Duration::minutes(2);
    assert_eq!(svc.run_due_fallbacks(t1).await.unwrap(), 1);
    assert_eq!(svc.run_due_fallbacks(t1).await.unwrap(), 0, "claimed once");
    let call1 = p.deliver(t1).await;
    assert_eq!(call1[0].0, "call");
    assert_eq!(code_in(&call1[0].1), code1, "{}", call1[0].1);
    // At five minutes the first code has expired and a second call brings a new one.
    let t2 = t0 + Duration::minutes(5);
    assert_eq!(svc.run_due_fallbacks(t2).await.unwrap(), 1);
    let call2 = p.deliver(t2).await;
    let code2 = code_in(&call2[0].1);
    if code2 != code1 {
        assert!(
            !svc.verify(k.id, &v(&code1), t2 + Duration::seconds(1))
                .await
                .unwrap()
        );
    }
    // Nothing more is scheduled; the new code works within its 5 minutes.
    assert_eq!(
        svc.run_due_fallbacks(t2 + Duration::minutes(30))
            .await
            .unwrap(),
        0
    );
    assert!(
        svc.verify(k.id, &v(&code2), t2 + Duration::minutes(4))
            .await
            .unwrap()
    );

    let list = json_with_status(p.app.get_admin("/admin/phone-verifications").await, 200).await;
    let row = &list[0];
    assert_eq!(row["status"], "verified");
    let channels: Vec<&str> = row["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["sms", "call", "call"]);
    assert!(
        !row.to_string().contains(&format!("\"{code2}\"")),
        "no code in the view"
    );
}

#[tokio::test]
async fn verification_cancels_the_fallback_and_codes_expire() {
    let p = spawn_phone(|_| {}).await;
    let k = p.key(5).await;
    let svc = &p.app.registry.phone;
    let t0 = Utc::now();
    let req = SendSms {
        phone_number: "+12025550163".into(),
        sender_name: "Verity".into(),
    };
    let id = svc.send(k.id, &req, t0).await.unwrap();
    let code = code_in(&p.deliver(t0).await[0].1);
    let v = VerifySms {
        request_id: id,
        received_code: code,
    };
    assert!(
        svc.verify(k.id, &v, t0 + Duration::seconds(60))
            .await
            .unwrap()
    );
    assert_eq!(
        svc.run_due_fallbacks(t0 + Duration::minutes(10))
            .await
            .unwrap(),
        0
    );
    assert!(
        p.deliver(t0 + Duration::minutes(10)).await.is_empty(),
        "no call"
    );

    // Without the fallback, the SMS code is dead after its 5 minutes.
    let id = svc.send(k.id, &req, t0).await.unwrap();
    let code = code_in(&p.deliver(t0).await[0].1);
    let v = VerifySms {
        request_id: id,
        received_code: code,
    };
    assert!(
        !svc.verify(k.id, &v, t0 + Duration::minutes(5))
            .await
            .unwrap()
    );
}
