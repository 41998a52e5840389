//! Flows and their challenges: the rows, the final-state guard, and the code units of work
//! (send, resend, attempt cap, expiry, single use under concurrency, reuse lookup).

use chrono::{DateTime, Utc};
use serde_json::value::{RawValue, to_raw_value};
use sqlx::types::Json;
use uuid::Uuid;
use verity::persistence::challenges::{
    CodeUse, NewChallenge, Outstanding, SendChallenge, SendResult, UseCode,
};
use verity::persistence::flows::FlowRecord;
use verity::persistence::{OutboxMessage, Store};

use crate::identities::{identity, t};

crate::contract!(
    flows_round_trip_and_final_states_stick,
    kinds_do_not_mix,
    a_send_stores_the_challenge_and_counts_the_send,
    a_resend_invalidates_the_earlier_code,
    a_send_queues_its_message_with_the_code_or_nothing,
    sends_are_capped_and_the_reason_is_told,
    attempts_are_counted_before_the_check,
    an_expired_code_is_refused,
    a_code_is_used_once_under_concurrency,
    concurrent_sends_leave_one_valid_code,
    an_outstanding_code_is_found_for_its_address_and_browser,
);

fn raw(v: serde_json::Value) -> Json<Box<RawValue>> {
    Json(to_raw_value(&v).unwrap())
}

pub fn record(kind: &str, now: DateTime<Utc>) -> FlowRecord {
    FlowRecord {
        id: Uuid::new_v4(),
        kind: kind.into(),
        flow_type: "browser".into(),
        state: "choose_method".into(),
        request_url: "http://x/self-service/verification/browser".into(),
        return_to: Some("http://x/after".into()),
        csrf_token: "csrf".into(),
        ui: raw(serde_json::json!({"action": "a", "method": "POST", "nodes": []})),
        identity_id: None,
        refresh: false,
        internal_context: raw(serde_json::json!({})),
        active_method: Some("code".into()),
        via: None,
        sent_to: None,
        submit_count: 0,
        send_count: 0,
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
        updated_at: now,
    }
}

fn challenge(secret: &str, address: Option<Uuid>, now: DateTime<Utc>) -> NewChallenge {
    NewChallenge {
        id: Uuid::new_v4(),
        method: "code",
        secret_hmac: secret.into(),
        identity_id: None,
        verifiable_address_id: address,
        via: "email",
        expires_at: now + chrono::Duration::minutes(10),
        issued_at: now,
    }
}

pub fn sent(f: &FlowRecord) -> FlowRecord {
    let mut s = f.clone();
    s.state = "sent_email".into();
    s.via = Some("email".into());
    s.sent_to = Some("a@example.com".into());
    s
}

async fn send(
    store: &Store,
    f: &FlowRecord,
    secret: &str,
    address: Option<Uuid>,
    max: i32,
) -> SendResult {
    send_with(store, f, secret, address, None, max).await
}

/// A send of `f` with this code, to `address` (marked sent), queuing `message` with it.
async fn send_with(
    store: &Store,
    f: &FlowRecord,
    secret: &str,
    address: Option<Uuid>,
    message: Option<OutboxMessage>,
    max: i32,
) -> SendResult {
    let now = t();
    store
        .send_challenge(SendChallenge {
            flow: &sent(f),
            max_sends: max,
            challenge: challenge(secret, address, now),
            message,
            mark_sent: address,
            now,
        })
        .await
        .unwrap()
}

async fn use_code(store: &Store, f: &FlowRecord, candidate: &str, max: i32) -> CodeUse {
    let mut passed = f.clone();
    passed.state = "passed_challenge".into();
    store
        .use_challenge(UseCode {
            flow_id: f.id,
            method: "code",
            max_submissions: max,
            candidates: &[candidate.to_owned()],
            on_success: &passed,
            now: t(),
        })
        .await
        .unwrap()
}

async fn flows_round_trip_and_final_states_stick(store: &Store) {
    let mut f = record("registration", t());
    store.insert_flow(&f).await.unwrap();
    let back = store.get_flow("registration", f.id).await.unwrap().unwrap();
    assert_eq!(
        (back.id, back.return_to.clone()),
        (f.id, f.return_to.clone())
    );
    let parse =
        |j: &Json<Box<RawValue>>| serde_json::from_str::<serde_json::Value>(j.0.get()).unwrap();
    assert_eq!(parse(&back.ui), parse(&f.ui));
    f.state = "passed_challenge".into();
    f.internal_context = raw(serde_json::json!({"verification_flow": {"id": "v"}}));
    assert!(store.update_flow(&f, t()).await.unwrap());
    let mut late = f.clone();
    late.state = "choose_method".into();
    assert!(
        !store.update_flow(&late, t()).await.unwrap(),
        "a finished flow stays finished"
    );
    let back = store.get_flow("registration", f.id).await.unwrap().unwrap();
    assert_eq!(back.state, "passed_challenge");
    assert!(back.internal_context.0.get().contains("verification_flow"));
    let mut settings = record("settings", t());
    store.insert_flow(&settings).await.unwrap();
    settings.state = "success".into();
    assert!(store.update_flow(&settings, t()).await.unwrap());
    settings.state = "show_form".into();
    assert!(
        store.update_flow(&settings, t()).await.unwrap(),
        "settings stay editable"
    );
}

async fn kinds_do_not_mix(store: &Store) {
    let f = record("login", t());
    store.insert_flow(&f).await.unwrap();
    assert!(
        store
            .get_flow("registration", f.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.get_any_flow(f.id).await.unwrap().unwrap().kind,
        "login"
    );
}

async fn a_send_stores_the_challenge_and_counts_the_send(store: &Store) {
    let i = identity("send@example.com");
    store.register_identity(&i, None, None).await.unwrap();
    let address = i.verifiable_addresses[0].id;
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    assert_eq!(
        send(store, &f, "mac-1", Some(address), 3).await,
        SendResult::Sent
    );
    let back = store.get_flow("verification", f.id).await.unwrap().unwrap();
    assert_eq!((back.state.as_str(), back.send_count), ("sent_email", 1));
    assert_eq!(back.sent_to.as_deref(), Some("a@example.com"));
    let owner = store.get_identity(i.id).await.unwrap().unwrap();
    assert_eq!(owner.verifiable_addresses[0].status.as_str(), "sent");
    assert!(matches!(
        use_code(store, &f, "mac-1", 5).await,
        CodeUse::Verified { address_id: Some(a), .. } if a == address
    ));
    let owner = store.get_identity(i.id).await.unwrap().unwrap();
    assert!(
        owner.verifiable_addresses[0].verified,
        "the address is verified with it"
    );
}

async fn a_resend_invalidates_the_earlier_code(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    send(store, &f, "first", None, 3).await;
    send(store, &f, "second", None, 3).await;
    assert_eq!(use_code(store, &f, "first", 5).await, CodeUse::NoMatch);
    assert!(matches!(
        use_code(store, &f, "second", 5).await,
        CodeUse::Verified { .. }
    ));
}

async fn a_send_queues_its_message_with_the_code_or_nothing(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    let first = crate::outbox::message("first@example.com", None, t());
    assert_eq!(
        send_with(store, &f, "one", None, Some(first.clone()), 1).await,
        SendResult::Sent
    );
    let (stored, dispatches) = store.get_message(first.id).await.unwrap().unwrap();
    assert!(dispatches.is_empty());
    assert_eq!(
        (
            stored.recipient.as_str(),
            stored.status,
            &stored.body,
            &stored.html_body,
            &stored.template_data,
            stored.next_attempt_at,
        ),
        (
            "first@example.com",
            first.status,
            &first.body,
            &first.html_body,
            &first.template_data,
            first.next_attempt_at,
        ),
        "the message is stored as composed"
    );
    let refused = crate::outbox::message("second@example.com", None, t());
    assert_eq!(
        send_with(store, &f, "two", None, Some(refused.clone()), 1).await,
        SendResult::SendsUsedUp
    );
    assert!(
        store.get_message(refused.id).await.unwrap().is_none(),
        "a refused send queues nothing"
    );
    assert_eq!(use_code(store, &f, "two", 5).await, CodeUse::NoMatch);
    assert!(matches!(
        use_code(store, &f, "one", 5).await,
        CodeUse::Verified { .. }
    ));
}

async fn sends_are_capped_and_the_reason_is_told(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    assert_eq!(send(store, &f, "a", None, 2).await, SendResult::Sent);
    assert_eq!(send(store, &f, "b", None, 2).await, SendResult::Sent);
    assert_eq!(send(store, &f, "c", None, 2).await, SendResult::SendsUsedUp);
    assert_eq!(
        use_code(store, &f, "c", 5).await,
        CodeUse::NoMatch,
        "nothing was written"
    );
    let g = record("verification", t());
    store.insert_flow(&g).await.unwrap();
    send(store, &g, "x", None, 3).await;
    assert!(matches!(
        use_code(store, &g, "x", 5).await,
        CodeUse::Verified { .. }
    ));
    assert_eq!(
        send(store, &g, "y", None, 3).await,
        SendResult::AlreadyPassed
    );
}

async fn attempts_are_counted_before_the_check(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    send(store, &f, "right", None, 3).await;
    for _ in 0..2 {
        assert_eq!(use_code(store, &f, "wrong", 2).await, CodeUse::NoMatch);
    }
    assert_eq!(
        use_code(store, &f, "right", 2).await,
        CodeUse::TooManyAttempts,
        "the right code is not even compared once the attempts are spent"
    );
}

async fn an_expired_code_is_refused(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    let past = t() - chrono::Duration::minutes(20);
    let mut c = challenge("old", None, past);
    c.expires_at = past + chrono::Duration::minutes(10);
    store
        .send_challenge(SendChallenge {
            flow: &sent(&f),
            max_sends: 3,
            challenge: c,
            message: None,
            mark_sent: None,
            now: t(),
        })
        .await
        .unwrap();
    assert!(matches!(
        use_code(store, &f, "old", 5).await,
        CodeUse::Expired { .. }
    ));
}

/// The codes stored for a flow, read beside the store.
pub async fn stored_codes(store: &Store, flow: Uuid) -> i64 {
    const SQL: &str = "SELECT count(*) FROM selfservice_flow_challenges WHERE flow_id = $1";
    match store {
        Store::Postgres(pool) => sqlx::query_scalar(SQL).bind(flow).fetch_one(pool).await,
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).bind(flow).fetch_one(pool).await,
    }
    .unwrap()
}

async fn concurrent_sends_leave_one_valid_code(store: &Store) {
    // Two first sends, then two resends, at once: whichever order they commit in, the flow
    // keeps only the last one's code (a resend removes what was sent before it).
    for round in 0..10 {
        let f = record("verification", t());
        store.insert_flow(&f).await.unwrap();
        let (a, b) = tokio::join!(send(store, &f, "a", None, 9), send(store, &f, "b", None, 9));
        assert_eq!((a, b), (SendResult::Sent, SendResult::Sent));
        assert_eq!(
            stored_codes(store, f.id).await,
            1,
            "round {round}, first sends"
        );
        let mut resent = f.clone();
        resent.send_count = 2;
        let (c, d) = tokio::join!(
            send(store, &resent, "c", None, 9),
            send(store, &resent, "d", None, 9)
        );
        assert_eq!((c, d), (SendResult::Sent, SendResult::Sent));
        assert_eq!(stored_codes(store, f.id).await, 1, "round {round}, resends");
    }
}

async fn a_code_is_used_once_under_concurrency(store: &Store) {
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    send(store, &f, "once", None, 3).await;
    let tries = (0..20).map(|_| use_code(store, &f, "once", 100));
    let results = futures_util::future::join_all(tries).await;
    let wins = results
        .iter()
        .filter(|r| matches!(r, CodeUse::Verified { .. }))
        .count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(
        results.iter().all(|r| matches!(
            r,
            CodeUse::Verified { .. } | CodeUse::Completed | CodeUse::AlreadyUsed
        )),
        "{results:?}"
    );
}

async fn an_outstanding_code_is_found_for_its_address_and_browser(store: &Store) {
    let i = identity("waiting@example.com");
    store.register_identity(&i, None, None).await.unwrap();
    let address = i.verifiable_addresses[0].id;
    let f = record("verification", t());
    store.insert_flow(&f).await.unwrap();
    let look = |csrf: &'static str| Outstanding {
        kind: "verification",
        flow_type: "browser",
        csrf_token: csrf,
        address_id: address,
        now: t(),
    };
    assert_eq!(
        store.outstanding_challenge(look("csrf")).await.unwrap(),
        None
    );
    send(store, &f, "code", Some(address), 3).await;
    assert_eq!(
        store.outstanding_challenge(look("csrf")).await.unwrap(),
        Some(f.id)
    );
    assert_eq!(
        store
            .outstanding_challenge(look("another browser"))
            .await
            .unwrap(),
        None
    );
    use_code(store, &f, "code", 5).await;
    assert_eq!(
        store.outstanding_challenge(look("csrf")).await.unwrap(),
        None,
        "a used code waits for nothing"
    );
}
