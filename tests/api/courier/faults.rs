//! Faults: SMTP down then up, permanent and transient SMTP errors, a worker that dies holding
//! a lease, expiry, the retry cap.

use chrono::{DateTime, Utc};
use verity::courier::{Channel, CourierError, MessageStatus, TemplateKind};

use super::{admin_message, app_with_sink, app_with_smtp, code_data, enqueue, secs, worker};
use crate::helpers::spawn_with;
use crate::support_smtp::{Fault, SmtpSink};

fn at(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn smtp_down_then_up_backs_off_and_delivers_after_recovery() {
    let port = SmtpSink::free_port();
    let app = app_with_smtp(SmtpSink::uri_for(port)).await;
    let w = worker(&app);
    let t0 = Utc::now();
    let id = enqueue(
        &app,
        Channel::Email,
        "dana@example.com",
        "246810",
        Some(t0 + secs(600)),
        t0,
    )
    .await;

    // Down: every due attempt fails, and the message is not due again before its backoff.
    let mut now = t0;
    for _ in 0..5 {
        let r = w.dispatch_once(now).await.unwrap();
        assert_eq!(
            (r.claimed, r.retried),
            (1, 1),
            "one failed attempt per due time"
        );
        let m = admin_message(&app, id).await;
        assert_eq!(m["status"], "queued");
        let next = at(&m["next_attempt_at"]);
        assert!(next > now);
        let early = now + (next - now) / 2;
        assert_eq!(
            w.dispatch_once(early).await.unwrap().claimed,
            0,
            "no retry before the backoff ends"
        );
        now = next;
    }
    let m = admin_message(&app, id).await;
    let d = m["dispatches"].as_array().unwrap();
    assert_eq!(d.len(), 5);
    assert!(d.iter().all(|x| x["status"] == "failed"));
    let gaps: Vec<i64> = d
        .windows(2)
        .map(|p| (at(&p[1]["created_at"]) - at(&p[0]["created_at"])).num_milliseconds())
        .collect();
    for pair in gaps.windows(2) {
        assert!(
            pair[1] >= pair[0],
            "backoff grows between attempts: {gaps:?}"
        );
    }
    assert!(
        gaps[3] >= 4_000,
        "the fifth attempt waits at least 4 s: {gaps:?}"
    );

    // Up again: the next due attempt delivers.
    let sink = SmtpSink::start_on(port).await;
    assert_eq!(w.dispatch_once(now).await.unwrap().sent, 1);
    assert_eq!(sink.mails().len(), 1);
    let m = admin_message(&app, id).await;
    assert_eq!(
        (m["status"].as_str(), m["send_count"].as_i64()),
        (Some("sent"), Some(6))
    );
}

#[tokio::test]
async fn a_permanent_550_fails_at_once_and_the_next_message_still_goes() {
    let (app, sink) = app_with_sink().await;
    sink.fail(Fault {
        verb: "RCPT",
        matching: Some("nobody@".into()),
        reply: "550 5.1.1 no such user",
        times: None,
    });
    let now = Utc::now();
    let bad = enqueue(
        &app,
        Channel::Email,
        "nobody@example.com",
        "111111",
        Some(now + secs(600)),
        now,
    )
    .await;
    let good = enqueue(
        &app,
        Channel::Email,
        "erin@example.com",
        "222222",
        Some(now + secs(600)),
        now,
    )
    .await;

    let r = worker(&app).dispatch_once(now).await.unwrap();
    assert_eq!((r.claimed, r.sent, r.abandoned), (2, 1, 1));
    let m = admin_message(&app, bad).await;
    assert_eq!(m["status"], "abandoned");
    assert!(m["last_error"].as_str().unwrap().contains("550"), "{m}");
    assert_eq!(
        m["dispatches"].as_array().unwrap().len(),
        1,
        "no retry of a permanent failure"
    );
    assert_eq!(admin_message(&app, good).await["status"], "sent");
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(
        worker(&app)
            .dispatch_once(now + secs(3600))
            .await
            .unwrap()
            .claimed,
        0
    );
}

#[tokio::test]
async fn an_smtp_4xx_is_retried() {
    let (app, sink) = app_with_sink().await;
    sink.fail(Fault {
        verb: "MAIL",
        matching: None,
        reply: "451 4.3.0 try again later",
        times: Some(1),
    });
    let now = Utc::now();
    let id = enqueue(&app, Channel::Email, "fay@example.com", "333333", None, now).await;
    let w = worker(&app);
    assert_eq!(w.dispatch_once(now).await.unwrap().retried, 1);
    let m = admin_message(&app, id).await;
    assert!(m["last_error"].as_str().unwrap().contains("451"));
    assert_eq!(w.dispatch_once(now + secs(2)).await.unwrap().sent, 1);
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_worker_expires_and_another_worker_sends_once() {
    let (app, sink) = app_with_sink().await;
    let now = Utc::now();
    let id = enqueue(
        &app,
        Channel::Email,
        "gus@example.com",
        "444444",
        Some(now + secs(600)),
        now,
    )
    .await;
    // A worker claims the message and dies before sending or recording anything.
    let lease = app.registry.courier.worker_config().lease.chrono();
    let claimed = app
        .store()
        .claim_messages(now, &super::lease(now + lease), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(admin_message(&app, id).await["status"], "processing");

    let w = worker(&app);
    assert_eq!(
        w.dispatch_once(now + lease - secs(1))
            .await
            .unwrap()
            .claimed,
        0,
        "the lease holds"
    );
    let r = w.dispatch_once(now + lease + secs(1)).await.unwrap();
    assert_eq!((r.claimed, r.sent), (1, 1));
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Message-ID").unwrap(),
        format!("<{id}@verity.local>"),
        "the same id on every attempt"
    );
    assert_eq!(admin_message(&app, id).await["status"], "sent");

    // A worker that dies after the server accepted the mail but before recording it: the
    // message goes again after the lease, with the same Message-ID, so it can be deduplicated.
    let later = now + secs(10);
    let id = enqueue(
        &app,
        Channel::Email,
        "hedy@example.com",
        "454545",
        Some(later + secs(600)),
        later,
    )
    .await;
    let claimed = app
        .store()
        .claim_messages(later, &super::lease(later + lease), 10)
        .await
        .unwrap();
    app.registry
        .courier
        .deliver(&claimed[0].message)
        .await
        .unwrap();
    assert_eq!(
        w.dispatch_once(later + lease + secs(1)).await.unwrap().sent,
        1
    );
    let ids: Vec<String> = sink
        .mails()
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .filter(|h| h.contains(&id.to_string()))
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "sent twice, once before and once after the crash"
    );
    assert_eq!(ids[0], ids[1]);
    // The dispatch log shows the attempt nobody recorded, so the duplicate is visible.
    let m = admin_message(&app, id).await;
    let d = m["dispatches"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{m}");
    assert_eq!(d[0]["status"], "failed");
    assert!(
        d[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not recorded"),
        "{m}"
    );
    assert_eq!(d[1]["status"], "success");
    assert_eq!(
        (m["status"].as_str(), m["send_count"].as_i64()),
        (Some("sent"), Some(2))
    );
}

#[tokio::test]
async fn messages_expire_with_their_code() {
    let port = SmtpSink::free_port();
    let app = app_with_smtp(SmtpSink::uri_for(port)).await;
    let w = worker(&app);
    let now = Utc::now();
    // Never attempted: past its expiry it is expired, not sent.
    let stale = enqueue(
        &app,
        Channel::Email,
        "hal@example.com",
        "555555",
        Some(now + secs(60)),
        now,
    )
    .await;
    let r = w.dispatch_once(now + secs(61)).await.unwrap();
    assert_eq!((r.claimed, r.expired), (0, 1));
    let m = admin_message(&app, stale).await;
    assert_eq!(m["status"], "expired");
    assert_eq!(m["send_count"], 0);
    // Failing while down: retried until the code dies, then expired with the last error.
    let dying = enqueue(
        &app,
        Channel::Email,
        "ida@example.com",
        "666666",
        Some(now + secs(20)),
        now,
    )
    .await;
    let mut t = now;
    for _ in 0..20 {
        w.dispatch_once(t).await.unwrap();
        let m = admin_message(&app, dying).await;
        if m["status"] != "queued" {
            break;
        }
        t = at(&m["next_attempt_at"]);
    }
    let m = admin_message(&app, dying).await;
    assert_eq!(m["status"], "expired");
    assert!(m["send_count"].as_i64().unwrap() >= 3, "{m}");
    assert!(m["last_error"].as_str().unwrap().contains("connect"), "{m}");
    let _ = SmtpSink::start_on(port).await;
    assert_eq!(
        w.dispatch_once(t + secs(3600)).await.unwrap().claimed,
        0,
        "expired messages are never sent"
    );
}

#[tokio::test]
async fn message_retries_caps_attempts_for_messages_without_expiry() {
    let port = SmtpSink::free_port();
    let app = spawn_with(|s| {
        super::courier_settings(s, Some(SmtpSink::uri_for(port)));
        s.courier.message_retries = 2;
    })
    .await;
    let w = worker(&app);
    let mut t = Utc::now();
    let id = enqueue(&app, Channel::Email, "jo@example.com", "777777", None, t).await;
    for _ in 0..3 {
        w.dispatch_once(t).await.unwrap();
        t += secs(3600);
    }
    let m = admin_message(&app, id).await;
    assert_eq!(
        (m["status"].as_str(), m["send_count"].as_i64()),
        (Some("abandoned"), Some(3))
    );
    assert!(
        m["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts")
    );
    assert_eq!(
        MessageStatus::parse("abandoned"),
        Some(MessageStatus::Abandoned)
    );
}

#[tokio::test]
async fn header_injection_never_reaches_the_transport() {
    let (app, sink) = app_with_sink().await;
    let c = &app.registry.courier;
    let now = Utc::now();
    let err = c
        .compose(
            Channel::Email,
            "a@example.com\r\nBcc: victim@example.com",
            TemplateKind::VerificationCodeValid,
            &code_data("1"),
            None,
            now,
        )
        .unwrap_err();
    assert!(matches!(err, CourierError::HeaderInjection(_)), "{err}");
    // The built-in subject carries no data; an override that does is guarded too.
    let mut settings = (*app.registry.settings).clone();
    settings.courier.templates.insert(
        "verification_code".into(),
        serde_json::from_value(
            serde_json::json!({"valid": {"email": {"subject": "Code {{verification_code}}"}}}),
        )
        .unwrap(),
    );
    let overridden = verity::courier::Courier::from_settings(&settings, true).unwrap();
    let err = overridden
        .compose(
            Channel::Email,
            "a@example.com",
            TemplateKind::VerificationCodeValid,
            &code_data("1\r\nBcc: victim@example.com"),
            None,
            now,
        )
        .unwrap_err();
    assert!(matches!(err, CourierError::HeaderInjection(_)), "{err}");
    assert_eq!(sink.commands(), 0);
}
