//! Phone-verification API storage on both backends: credits are spent atomically (never
//! below zero, nothing written without one), a code is used at most once under concurrency,
//! attempts are counted before the check, and a fallback step is claimed once.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use verity::persistence::phone::{Advance, ApiKey, NewPhoneRequest, PhoneCodeUse, SendOutcome};
use verity::persistence::{Channel, MessageStatus, OutboxMessage, Sealed, Store};

crate::contract!(
    credits_are_spent_once_each_and_never_below_zero,
    right_code_is_used_exactly_once_under_concurrency,
    attempts_are_counted_before_the_check,
    fallback_step_is_claimed_once_and_cancelled_by_verification,
);

fn message(now: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        id: Uuid::now_v7(),
        channel: Channel::Sms,
        status: MessageStatus::Queued,
        recipient: "+12025550163".into(),
        template_type: "phone_verification_code".into(),
        subject: Sealed(vec![]),
        body: Sealed(vec![1, 2, 3]),
        html_body: None,
        template_data: Sealed(vec![]),
        channel_id: "sms".into(),
        send_count: 0,
        next_attempt_at: now,
        lease_expires_at: None,
        expires_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    }
}

async fn key(store: &Store, credits: i64) -> Uuid {
    let k = ApiKey {
        id: Uuid::new_v4(),
        name: "partner".into(),
        key: format!("vk_{}", Uuid::new_v4().simple()),
        credits,
        revoked_at: None,
        created_at: Utc::now(),
    };
    store.create_api_key(&k, "hash").await.unwrap();
    k.id
}

fn request(key: Uuid, now: DateTime<Utc>) -> NewPhoneRequest {
    NewPhoneRequest {
        id: Uuid::new_v4().simple().to_string(),
        api_key_id: key,
        phone_number: "+12025550163".into(),
        sender_name: "Verity".into(),
        code_hmac: "right".into(),
        code_sealed: None,
        expires_at: now + Duration::minutes(5),
        next_step_at: Some(now + Duration::minutes(2)),
        message: message(now),
        now,
    }
}

fn code_use<'a>(id: &'a str, key: Uuid, c: &'a [String], now: DateTime<Utc>) -> PhoneCodeUse<'a> {
    PhoneCodeUse {
        request_id: id,
        api_key_id: key,
        candidates: c,
        max_attempts: 3,
        now,
    }
}

async fn outbox(store: &Store) -> usize {
    store
        .list_messages(&Default::default(), None, 100)
        .await
        .unwrap()
        .messages
        .len()
}

async fn credits_are_spent_once_each_and_never_below_zero(store: &Store) {
    let k = key(store, 3).await;
    let now = Utc::now();
    let sends =
        (0..6).map(|_| async move { store.send_phone_request(&request(k, now)).await.unwrap() });
    let outcomes = futures_util::future::join_all(sends).await;
    let queued = outcomes
        .iter()
        .filter(|o| **o == SendOutcome::Queued)
        .count();
    assert_eq!(queued, 3, "{outcomes:?}");
    assert_eq!(outbox(store).await, 3, "a refused send queues nothing");
    let keys = store.list_api_keys().await.unwrap();
    assert_eq!(keys[0].credits, 0);
    assert_eq!(store.add_api_key_credits(k, 2).await.unwrap(), Some(2));
    assert!(store.revoke_api_key(k, now).await.unwrap());
    assert_eq!(
        store.send_phone_request(&request(k, now)).await.unwrap(),
        SendOutcome::NoCredits
    );
    assert_eq!(
        store.add_api_key_credits(Uuid::new_v4(), 1).await.unwrap(),
        None
    );
}

async fn right_code_is_used_exactly_once_under_concurrency(store: &Store) {
    let k = key(store, 1).await;
    let now = Utc::now();
    let r = request(k, now);
    store.send_phone_request(&r).await.unwrap();
    let right = vec!["right".to_owned()];
    let uses = (0..6).map(|_| store.use_phone_code(code_use(&r.id, k, &right, now)));
    let results: Vec<bool> = futures_util::future::join_all(uses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results.iter().filter(|b| **b).count(), 1, "{results:?}");
    // Another key never uses it, and an expired code is refused.
    let other = key(store, 1).await;
    let r2 = request(other, now);
    store.send_phone_request(&r2).await.unwrap();
    assert!(
        !store
            .use_phone_code(code_use(&r2.id, k, &right, now))
            .await
            .unwrap()
    );
    let late = now + Duration::minutes(5);
    assert!(
        !store
            .use_phone_code(code_use(&r2.id, other, &right, late))
            .await
            .unwrap()
    );
    assert!(
        store
            .use_phone_code(code_use(&r2.id, other, &right, now))
            .await
            .unwrap()
    );
}

async fn attempts_are_counted_before_the_check(store: &Store) {
    let k = key(store, 1).await;
    let now = Utc::now();
    let r = request(k, now);
    store.send_phone_request(&r).await.unwrap();
    let (wrong, right) = (vec!["wrong".to_owned()], vec!["right".to_owned()]);
    let guesses = (0..5).map(|_| store.use_phone_code(code_use(&r.id, k, &wrong, now)));
    futures_util::future::join_all(guesses).await;
    assert!(
        !store
            .use_phone_code(code_use(&r.id, k, &right, now))
            .await
            .unwrap()
    );
    let (rows, _) = store.list_phone_requests(10).await.unwrap();
    assert_eq!(rows[0].attempts, 6);
    assert_eq!(rows[0].status, "failed");
    assert_eq!(
        rows[0].next_step_at, None,
        "a failed request has no fallback"
    );
}

async fn fallback_step_is_claimed_once_and_cancelled_by_verification(store: &Store) {
    let k = key(store, 2).await;
    let now = Utc::now();
    let r = request(k, now);
    store.send_phone_request(&r).await.unwrap();
    assert!(store.due_phone_steps(now, 10).await.unwrap().is_empty());
    let t1 = now + Duration::minutes(2);
    let due = store.due_phone_steps(t1, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let advance = |from_step, code: Option<&str>, next| Advance {
        id: r.id.clone(),
        from_step,
        new_code_hmac: code.map(str::to_owned),
        code_sealed: None,
        expires_at: now + Duration::minutes(5),
        next_step_at: next,
        message: message(t1),
        now: t1,
    };
    let a = advance(0, None, Some(now + Duration::minutes(5)));
    assert!(store.advance_phone_step(&a).await.unwrap());
    let b = advance(0, None, Some(now + Duration::minutes(5)));
    assert!(!store.advance_phone_step(&b).await.unwrap(), "claimed once");
    assert!(store.due_phone_steps(t1, 10).await.unwrap().is_empty());
    // Verified: nothing is due any more, however late.
    let right = vec!["right".to_owned()];
    assert!(
        store
            .use_phone_code(code_use(&r.id, k, &right, t1))
            .await
            .unwrap()
    );
    assert!(
        store
            .due_phone_steps(now + Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, history) = store.list_phone_requests(10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(outbox(store).await, 2);
}
