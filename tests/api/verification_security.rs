//! Enumeration and CSRF on the verification endpoints. The error answers are in `verification_errors`.

use std::time::Duration;

use reqwest::header::ACCEPT;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::verification_support::*;

/// Sends to `known` and to `unknown` from two flows of `kind`, asserts the answers are the
/// same but for ids, timestamps and the address, and returns the two flows.
async fn answered_alike(app: &TestApp, kind: Kind, known: &str, unknown: &str) -> (Value, Value) {
    let c = Client::new(kind);
    let a = c.init(app).await;
    let b = c.init(app).await;
    let ra = c.send_code(app, &a, known).await;
    let rb = c.send_code(app, &b, unknown).await;
    assert_eq!(ra.status, rb.status, "{ra:?} / {rb:?}");
    assert_eq!(ra.cookie_names(), rb.cookie_names());
    let header_names = |r: &Reply| {
        let mut n: Vec<String> = r
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k != "date")
            .collect();
        n.sort();
        n
    };
    assert_eq!(header_names(&ra), header_names(&rb));
    if kind == Kind::Browser {
        let (ia, ib) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
        assert_eq!(
            ra.location().unwrap().replace(ia, "FLOW"),
            rb.location().unwrap().replace(ib, "FLOW")
        );
    }
    let fa = c.resolve(app, &ra).await;
    let fb = c.resolve(app, &rb).await;
    assert_eq!(fb["state"], "sent_email");
    assert_eq!(message_ids(&fb), [1080003]);
    let (ia, ib) = (fa["id"].as_str().unwrap(), fb["id"].as_str().unwrap());
    assert_eq!(
        normalize(&fa, &[(ia, "FLOW"), (known, "ADDR")]),
        normalize(&fb, &[(ib, "FLOW"), (unknown, "ADDR")])
    );
    (fa, fb)
}

#[tokio::test]
async fn an_unknown_address_is_answered_like_a_known_one_and_gets_nothing() {
    let app = spawn_app().await;
    for kind in KINDS {
        let known = format!("known-{kind:?}@example.com").to_lowercase();
        let unknown = format!("unknown-{kind:?}@example.com").to_lowercase();
        create_email_identity(&app, &known).await;
        let (_, unknown_flow) = answered_alike(&app, kind, &known, &unknown).await;
        assert_eq!(inbox(&app, &known).await.len(), 1);
        assert!(outbox(&app, &unknown).await.is_empty(), "nothing queued");
        // The same work was done for it (C3): a sealed decoy that the courier never sends.
        assert_eq!(decoys(&app, &unknown).await.len(), 1, "one decoy");
        // A code submitted to the unknown address's flow is just wrong.
        let c = Client::new(Kind::Api);
        if kind == Kind::Api {
            let reply = c.use_code(&app, &unknown_flow, "123456").await;
            assert_eq!(reply.status, 200);
            assert_eq!(message_ids(&reply.body), [4070006]);
        }
    }
}

#[tokio::test]
async fn notify_unknown_recipients_sends_one_notice_and_the_same_answer() {
    let app =
        spawn_with(|s| s.selfservice.flows.verification.notify_unknown_recipients = true).await;
    for kind in KINDS {
        let known = format!("known-{kind:?}@example.com").to_lowercase();
        let unknown = format!("unknown-{kind:?}@example.com").to_lowercase();
        create_email_identity(&app, &known).await;
        answered_alike(&app, kind, &known, &unknown).await;
        let messages = wait_messages(&app, &unknown, 1).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0]["subject"],
            "Someone tried to verify this email address"
        );
        assert!(
            messages[0]["code"].is_null(),
            "no code for an unknown address"
        );
        assert_eq!(messages[0]["template_type"], "verification_code_invalid");
    }
}

/// The error of a CSRF rejection: the 403 body for JSON clients; for browser form posts, the
/// error stored for the error UI that the 303 points at.
async fn csrf_rejection(app: &TestApp, kind: Kind, reply: &Reply) -> serde_json::Value {
    if kind.is_json() {
        assert_eq!(reply.status, 403, "{kind:?}: {reply:?}");
        return reply.body.clone();
    }
    assert_eq!(reply.status, 303, "{reply:?}");
    let location = reply.location().unwrap();
    let prefix = format!("{}/ui/error?id=", app.public);
    assert!(location.starts_with(&prefix), "{location}");
    let id = &location[prefix.len()..];
    let resp = app
        .http
        .get(format!("{}/self-service/errors?id={id}", app.public))
        .send()
        .await
        .unwrap();
    let stored = crate::helpers::json_with_status(resp, 200).await;
    assert_eq!(stored["error"]["code"], 403);
    serde_json::json!({"error": stored["error"]})
}

#[tokio::test]
async fn a_browser_address_submission_needs_cookie_and_token() {
    let app = spawn_app().await;
    let email = "csrf@example.com";
    create_email_identity(&app, email).await;
    for kind in [Kind::Browser, Kind::Spa] {
        let c = Client::new(kind);
        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap();
        let stranger = Client::new(kind);
        let foreign = stranger.init(&app).await;
        let foreign_token = csrf_of(&foreign).unwrap();
        let own_token = csrf_of(&flow).unwrap();
        // (case, who posts, the csrf_token field)
        let cases = [
            ("no token", &c, None),
            ("token of another browser", &c, Some(foreign_token.as_str())),
            ("garbage token", &c, Some("bm90IGEgdG9rZW4=")),
            (
                "right token, other browser's cookie",
                &stranger,
                Some(own_token.as_str()),
            ),
        ];
        for (case, client, token) in cases {
            let mut fields = vec![("method", "code"), ("email", email)];
            fields.extend(token.map(|t| ("csrf_token", t)));
            let reply = client.post(&app, id, &fields).await;
            // Form posts are forwarded to the error UI with the stored error's id.
            let body = csrf_rejection(&app, kind, &reply).await;
            assert_eq!(
                body["error"]["id"], "security_csrf_violation",
                "{kind:?} {case}"
            );
            assert_eq!(body["error"]["reason"], CSRF_REASON);
            assert_eq!(
                body["error"]["message"],
                "the request was rejected to protect you from Cross-Site-Request-Forgery"
            );
        }
        // A jar without any cookie at all.
        let bare = Client::new(kind);
        let reply = bare
            .post(
                &app,
                id,
                &[
                    ("method", "code"),
                    ("email", email),
                    ("csrf_token", &own_token),
                ],
            )
            .await;
        csrf_rejection(&app, kind, &reply).await;
        assert_eq!(
            c.flow(&app, id).await["state"],
            "choose_method",
            "no change"
        );
    }
    assert!(outbox(&app, email).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn api_flows_need_no_csrf_token_and_set_no_cookie() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Api);
    let reply = c.init_raw(&app, None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.cookie_names().is_empty(), "{reply:?}");
    assert!(csrf_of(&reply.body).is_none());
    let reply = c.send_code(&app, &reply.body, "api@example.com").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.cookie_names().is_empty());
    // Any client may read an api flow.
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(Client::new(Kind::Api).flow(&app, id).await["id"], id);
}

#[tokio::test]
async fn browser_init_sets_one_csrf_cookie_named_after_the_public_url() {
    let app = spawn_app().await;
    let c = Client::new(Kind::Browser);
    let reply = c.init_raw(&app, None).await;
    assert_eq!(reply.status, 303);
    let base = app.registry.urls.public.as_str();
    assert_eq!(
        reply.cookie_names(),
        [verity::csrf::cookie_name(base)],
        "csrf_token_<sha256(public base url)>"
    );
    let cookie = reply.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // A second init from the same browser keeps the cookie.
    let again = c.init_raw(&app, None).await;
    assert!(again.cookie_names().is_empty());
}

#[tokio::test]
async fn an_api_flow_refuses_to_send_for_a_browser() {
    let app = spawn_app().await;
    let email = "api-browser@example.com";
    create_email_identity(&app, email).await;
    let c = Client::new(Kind::Api);
    let flow = c.init(&app).await;
    let id = flow["id"].as_str().unwrap();
    let url = format!("{}/self-service/verification?flow={id}", app.public);
    let body = serde_json::json!({"method": "code", "email": email});
    let send = |extra: (&'static str, &'static str)| {
        jar()
            .post(&url)
            .header(ACCEPT, "application/json")
            .header(extra.0, extra.1)
            .json(&body)
            .send()
    };
    for (header, reason_start) in [
        (
            ("Origin", "https://app.example.com"),
            "The HTTP Request Header included the \"Origin\" key",
        ),
        (
            ("Cookie", "session=abc"),
            "The HTTP Request Header included the \"Cookie\" key",
        ),
    ] {
        let reply = Reply::read(send(header).await.unwrap()).await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.body["id"], id);
        assert_eq!(message_ids(&reply.body), [4000001]);
        let text = first_message(&reply.body)["text"].as_str().unwrap();
        assert!(text.starts_with(reason_start), "{text}");
        assert_eq!(reply.body["state"], "choose_method");
    }
    assert!(outbox(&app, email).await.is_empty(), "nothing was sent");
    // Cloudflare's own cookies do not count.
    let reply = Reply::read(send(("Cookie", "__cf_bm=x; cf_clearance=y")).await.unwrap()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(message_ids(&reply.body), [1080003]);
}

#[tokio::test]
async fn codes_appear_in_no_answer_and_no_redirect() {
    let app = spawn_app().await;
    for kind in KINDS {
        let c = Client::new(kind);
        let email = kind_address(kind, "no-leak");
        create_email_identity(&app, &email).await;
        let flow = c.init(&app).await;
        let id = flow["id"].as_str().unwrap().to_owned();
        let reply = c.send_code(&app, &flow, &email).await;
        let code = inbox_code(&app, &email).await;
        let shown = c.flow(&app, &id).await;
        for (what, text) in [
            ("send answer", reply.body.to_string()),
            ("redirect", reply.location().unwrap_or("").to_owned()),
            ("flow", shown.to_string()),
        ] {
            assert!(!text.contains(&code), "{kind:?}: the {what} holds the code");
        }
        let reply = c.use_code(&app, &shown, &wrong(&code)).await;
        let after = c.resolve(&app, &reply).await;
        assert!(!after.to_string().contains(&code));
    }
}

/// The medians of 40 interleaved sends for known and for unknown addresses (round `round`).
async fn send_medians(app: &TestApp, round: usize) -> (Duration, Duration) {
    let c = Client::new(Kind::Api);
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let k = format!("timing-known-{round}-{i}@example.com");
        create_email_identity(app, &k).await;
        let u = format!("timing-unknown-{round}-{i}@example.com");
        // Interleaved, so drift in the machine's load hits both alike.
        for (address, times) in [(&k, &mut known), (&u, &mut unknown)] {
            let flow = c.init(app).await;
            let started = std::time::Instant::now();
            assert_eq!(c.send_code(app, &flow, address).await.status, 200);
            times.push(started.elapsed());
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    (median(known), median(unknown))
}

/// A coarse bound that a loaded test machine can hold (the fine figure comes from
/// `cargo bench --bench timing`). A systematic gap over the bound fails every round; a burst
/// of load from other tests spoils one round, so up to three are measured.
#[tokio::test]
async fn known_and_unknown_addresses_take_about_the_same_time() {
    let app = spawn_with(|s| s.selfservice.rate_limits.enabled = false).await;
    let mut seen = Vec::new();
    for round in 0..3 {
        let (k, u) = send_medians(&app, round).await;
        if k.abs_diff(u) < Duration::from_millis(5) {
            return;
        }
        seen.push((k, u));
    }
    panic!("median known vs unknown differ by 5 ms or more in every round: {seen:?}");
}

/// Links in messages come from `serve.public.base_url`, never from the request's `Host`
/// (SECURITY.md F4): a spoofed Host cannot point a victim's link at the attacker.
#[tokio::test]
async fn links_in_messages_ignore_a_spoofed_host_header() {
    let app = spawn_app().await;
    let email = "host-header@example.com";
    create_email_identity(&app, email).await;
    let http = reqwest::Client::new();
    let flow: Value = http
        .get(format!("{}/self-service/verification/api", app.public))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let action = format!(
        "{}/self-service/verification?flow={}",
        app.public,
        flow["id"].as_str().unwrap()
    );
    let sent = http
        .post(&action)
        .header("host", "attacker.example")
        .header(ACCEPT, "application/json")
        .json(&serde_json::json!({"method": "code", "email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let message = &wait_messages(&app, email, 1).await[0];
    let body = message["body"].as_str().unwrap();
    assert!(!body.contains("attacker.example"), "{body}");
    assert!(
        body.contains(&format!("{}/self-service/verification?", app.public)),
        "{body}"
    );
    assert!(!flow.to_string().contains("attacker.example"), "{flow}");
}
