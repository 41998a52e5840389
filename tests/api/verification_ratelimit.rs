//! Rate limits on the verification endpoints: 429 with
//! `Retry-After` and a Kratos-shaped error body, the same for known and unknown addresses.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_with};
use crate::verification_support::*;

fn retry_after(r: &Reply) -> u64 {
    r.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("Retry-After on {r:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The 429 error object: JSON clients get it as the answer; a browser's form post is sent
/// (303, keeping `Retry-After`) to the error UI, which reads the stored error back, and a
/// browser over the flow-creation limit gets the error page itself (nothing is stored for
/// it). Browsers were answered with JSON here before the flows shared one error mapping.
async fn assert_limited(app: &TestApp, r: &Reply, window_secs: u64) -> Value {
    let s = retry_after(r);
    assert!(s >= 1 && s <= window_secs, "Retry-After {s}");
    let html = r
        .headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
    if html {
        assert_eq!(r.status, 429, "{r:?}");
        return json!({"code": 429});
    }
    let e = if r.status == 303 {
        let location = r.location().unwrap();
        assert!(
            location.starts_with(&format!("{}/ui/error?id=", app.public)),
            "{r:?}"
        );
        let id = location.rsplit("id=").next().unwrap();
        let stored: Value = reqwest::get(format!("{}/self-service/errors?id={id}", app.public))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stored["error"].clone()
    } else {
        assert_eq!(r.status, 429, "{r:?}");
        r.body["error"].clone()
    };
    assert_eq!(e["code"], 429, "{r:?}");
    assert_eq!(e["status"], "Too Many Requests");
    assert!(e["message"].is_string() && e["reason"].is_string(), "{r:?}");
    e
}

#[tokio::test]
async fn sends_per_address_are_limited_alike_for_known_and_unknown_addresses() {
    let app =
        spawn_with(|s| s.selfservice.rate_limits.verification_sends_per_address_10m = 2).await;
    let known = "limited@example.com";
    let unknown = "limited-unknown@example.com";
    create_email_identity(&app, known).await;
    let mut limited = Vec::new();
    for address in [known, unknown] {
        for kind in [Kind::Api, Kind::Spa] {
            let c = Client::new(kind);
            let flow = c.init(&app).await;
            let reply = c.send_code(&app, &flow, address).await;
            assert_eq!(reply.status, 200, "{reply:?}");
        }
        for kind in KINDS {
            // New flows (so max_resends is not what stops them).
            let c = Client::new(kind);
            let flow = c.init(&app).await;
            let reply = c.send_code(&app, &flow, address).await;
            let error = assert_limited(&app, &reply, 600).await;
            let after = c.flow(&app, flow["id"].as_str().unwrap()).await;
            assert_eq!(
                after["state"], "choose_method",
                "a refused send changes nothing"
            );
            limited.push(error);
        }
    }
    assert_eq!(
        outbox(&app, known).await.len(),
        2,
        "the refused sends queued nothing"
    );
    assert!(outbox(&app, unknown).await.is_empty());
    for e in &limited {
        assert_eq!(e, &limited[0], "the same error for every address");
    }
    // The limit is per address: another address is still served.
    let other = "limited-other@example.com";
    let c = Client::new(Kind::Api);
    let flow = c.init(&app).await;
    assert_eq!(c.send_code(&app, &flow, other).await.status, 200);
}

async fn wrong_code(app: &TestApp, c: &Client, flow: &Value) -> Reply {
    c.use_code(app, flow, "000000").await
}

#[tokio::test]
async fn wrong_codes_per_address_are_limited_across_flows() {
    let app = spawn_with(|s| s.selfservice.rate_limits.code_failures_per_address_day = 3).await;
    let known = "guesser@example.com";
    let unknown = "guesser-unknown@example.com";
    let identity = create_email_identity(&app, known).await;
    let c = Client::new(Kind::Api);
    let mut answers = Vec::new();
    for address in [known, unknown] {
        let flow = c.init(&app).await;
        let reply = c.send_code(&app, &flow, address).await;
        let flow = reply.body;
        for _ in 0..3 {
            let reply = wrong_code(&app, &c, &flow).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(message_ids(&reply.body), [4070006]);
        }
        // The budget is per address: a new flow does not reset it ...
        let fresh = c.init(&app).await;
        let reply = c.send_code(&app, &fresh, address).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let reply = wrong_code(&app, &c, &reply.body).await;
        assert_limited(&app, &reply, 86_400).await;
        answers.push(reply);
    }
    // ... and once it is spent even the right code is refused.
    let flow = c.init(&app).await;
    let reply = c.send_code(&app, &flow, known).await;
    let code = inbox_code(&app, known).await;
    let reply = c.use_code(&app, &reply.body, &code).await;
    assert_limited(&app, &reply, 86_400).await;
    assert_not_verified(&app, &identity).await;
    assert_eq!(answers[0].body, answers[1].body);
}

#[tokio::test]
async fn flow_creation_per_ip_is_limited() {
    let app = spawn_with(|s| s.selfservice.rate_limits.flows_per_ip_minute = 3).await;
    for kind in [Kind::Api, Kind::Browser, Kind::Spa] {
        let reply = Client::new(kind).init_raw(&app, None).await;
        assert!(matches!(reply.status, 200 | 303), "{reply:?}");
    }
    for kind in KINDS {
        let reply = Client::new(kind).init_raw(&app, None).await;
        assert_limited(&app, &reply, 60).await;
    }
}

#[tokio::test]
async fn sends_and_submissions_per_ip_are_limited_and_forwarded_for_is_not_trusted() {
    let app = spawn_with(|s| {
        s.selfservice.rate_limits.sends_per_ip_10m = 2;
        s.selfservice.rate_limits.submissions_per_ip_minute = 3;
    })
    .await;
    let c = Client::new(Kind::Api);
    for i in 0..3 {
        let flow = c.init(&app).await;
        let reply = c
            .send_code(&app, &flow, &format!("ip-{i}@example.com"))
            .await;
        if i < 2 {
            assert_eq!(reply.status, 200, "{reply:?}");
        } else {
            assert_limited(&app, &reply, 600).await;
        }
    }
    let flow = c.init(&app).await;
    for i in 0..4 {
        // A client cannot pick its own address without a trusted proxy in front.
        let resp = c
            .http
            .post(format!(
                "{}/self-service/verification?flow={}",
                app.public,
                flow["id"].as_str().unwrap()
            ))
            .header("accept", "application/json")
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&serde_json::json!({"method": "code", "code": "123456"}))
            .send()
            .await
            .unwrap();
        let reply = Reply::read(resp).await;
        if i < 3 {
            assert_eq!(reply.status, 200, "{reply:?}");
        } else {
            assert_limited(&app, &reply, 60).await;
        }
    }
}
