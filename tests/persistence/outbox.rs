//! The courier outbox on both backends: claims take a lease for one owner, a lease that runs
//! out returns the message (and shows the attempt nobody recorded), the owner's heartbeat keeps
//! its leases, retries wait for their time, recording is idempotent and never lets a worker that
//! lost its lease requeue a message, two workers never claim one message, and purging touches
//! only finished messages past their lifetime.

use std::collections::HashSet;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use uuid::Uuid;

use verity::persistence::{
    AttemptRecord, AttemptResult, Channel, Lease, MessageStatus, OutboxMessage, Sealed, Store,
};

crate::contract!(
    a_claim_leases_due_messages_to_one_owner,
    an_expired_lease_returns_the_message_with_its_unrecorded_attempt,
    the_heartbeat_renews_only_its_owners_leases,
    a_retry_is_not_claimed_before_it_is_due,
    recording_is_idempotent_and_sent_stays_sent,
    a_worker_that_lost_its_lease_cannot_requeue_the_message,
    two_workers_claiming_at_once_each_get_different_messages,
    released_messages_are_due_again_as_if_never_claimed,
    expiry_and_purge_touch_only_what_is_due,
);

/// Now, to the microsecond Postgres keeps.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn message(
    to: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage {
        id: Uuid::now_v7(),
        channel: Channel::Email,
        status: MessageStatus::Queued,
        recipient: to.into(),
        template_type: "verification_code_valid".into(),
        subject: Sealed(vec![9; 32]),
        body: Sealed(vec![1; 32]),
        html_body: Some(Sealed(vec![2; 32])),
        template_data: Sealed(vec![3; 32]),
        channel_id: "email".into(),
        send_count: 0,
        next_attempt_at: now,
        lease_expires_at: None,
        expires_at,
        last_error: None,
        created_at: now,
        updated_at: now,
    }
}

async fn queue(store: &Store, n: usize, now: DateTime<Utc>) -> Vec<Uuid> {
    let ms: Vec<_> = (0..n)
        .map(|i| message(&format!("u{i}@example.com"), None, now))
        .collect();
    store.enqueue_messages(&ms).await.unwrap();
    ms.iter().map(|m| m.id).collect()
}

fn lease(owner: Uuid, until: DateTime<Utc>) -> Lease {
    Lease { owner, until }
}

fn record(id: Uuid, result: AttemptResult, at: DateTime<Utc>) -> AttemptRecord {
    AttemptRecord {
        message_id: id,
        result,
        at,
        unrecorded_attempts: 0,
    }
}

async fn status(store: &Store, id: Uuid) -> (MessageStatus, i32, Vec<bool>) {
    let (m, d) = store.get_message(id).await.unwrap().unwrap();
    (
        m.status,
        m.send_count,
        d.iter().map(|d| d.success).collect(),
    )
}

async fn a_claim_leases_due_messages_to_one_owner(store: &Store) {
    let now = now();
    let ids = queue(store, 3, now).await;
    let a = Uuid::new_v4();
    let until = now + Duration::seconds(5);
    let first = store
        .claim_messages(now, &lease(a, until), 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    for c in &first {
        assert_eq!(c.message.status, MessageStatus::Processing);
        assert_eq!(c.message.lease_expires_at, Some(until));
        assert_eq!(c.unrecorded_attempts, 0);
    }
    let rest = store
        .claim_messages(now, &lease(Uuid::new_v4(), until), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "the leased ones are not claimed again");
    let mut all: Vec<Uuid> = first.iter().chain(&rest).map(|c| c.message.id).collect();
    all.sort();
    assert_eq!(all, ids);
    // Not yet due: nothing.
    let future = message("later@example.com", None, now + Duration::seconds(60));
    store.enqueue_message(&future).await.unwrap();
    assert!(
        store
            .claim_messages(now, &lease(a, until), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_expired_lease_returns_the_message_with_its_unrecorded_attempt(store: &Store) {
    let now = now();
    let id = queue(store, 1, now).await[0];
    let until = now + Duration::seconds(5);
    store
        .claim_messages(now, &lease(Uuid::new_v4(), until), 1)
        .await
        .unwrap();
    let before = until - Duration::milliseconds(1);
    let b = Uuid::new_v4();
    assert!(
        store
            .claim_messages(before, &lease(b, before + Duration::seconds(5)), 1)
            .await
            .unwrap()
            .is_empty(),
        "the lease holds until its end"
    );
    let after = until + Duration::seconds(1);
    let again = store
        .claim_messages(after, &lease(b, after + Duration::seconds(5)), 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].unrecorded_attempts, 1, "its first worker died");
    let mut r = record(id, AttemptResult::Sent, after);
    r.unrecorded_attempts = 1;
    store.record_attempts(b, &[r]).await.unwrap();
    assert_eq!(
        status(store, id).await,
        (MessageStatus::Sent, 2, vec![false, true]),
        "the lost attempt is in the dispatch log"
    );
}

async fn the_heartbeat_renews_only_its_owners_leases(store: &Store) {
    let now = now();
    queue(store, 2, now).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let until = now + Duration::seconds(5);
    let mine = store
        .claim_messages(now, &lease(a, until), 1)
        .await
        .unwrap();
    store
        .claim_messages(now, &lease(b, until), 1)
        .await
        .unwrap();
    let renewed = now + Duration::seconds(20);
    assert_eq!(store.renew_leases(a, renewed).await.unwrap(), 1);
    let later = until + Duration::seconds(1);
    let taken = store
        .claim_messages(
            later,
            &lease(Uuid::new_v4(), later + Duration::seconds(5)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "only b's lease ran out");
    assert_ne!(taken[0].message.id, mine[0].message.id);
    let (m, _) = store
        .get_message(mine[0].message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.lease_expires_at, Some(renewed));
}

async fn a_retry_is_not_claimed_before_it_is_due(store: &Store) {
    let now = now();
    let id = queue(store, 1, now).await[0];
    let a = Uuid::new_v4();
    store
        .claim_messages(now, &lease(a, now + Duration::seconds(5)), 1)
        .await
        .unwrap();
    let next = now + Duration::seconds(10);
    let retry = AttemptResult::Retry {
        error: "451 try later".into(),
        next_attempt_at: next,
    };
    store
        .record_attempts(a, &[record(id, retry, now)])
        .await
        .unwrap();
    let (m, _) = store.get_message(id).await.unwrap().unwrap();
    assert_eq!(
        (m.status, m.send_count, m.last_error.as_deref()),
        (MessageStatus::Queued, 1, Some("451 try later"))
    );
    let early = now + Duration::seconds(9);
    assert!(
        store
            .claim_messages(early, &lease(a, early + Duration::seconds(5)), 1)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .claim_messages(next, &lease(a, next + Duration::seconds(5)), 1)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].unrecorded_attempts, 0, "the failure was recorded");
    let gave_up = AttemptResult::Abandon {
        error: "550 no such user".into(),
    };
    store
        .record_attempts(a, &[record(id, gave_up, next)])
        .await
        .unwrap();
    assert_eq!(
        status(store, id).await,
        (MessageStatus::Abandoned, 2, vec![false, false])
    );
    let much_later = next + Duration::hours(1);
    assert!(
        store
            .claim_messages(much_later, &lease(a, much_later), 1)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn recording_is_idempotent_and_sent_stays_sent(store: &Store) {
    let now = now();
    let id = queue(store, 1, now).await[0];
    let a = Uuid::new_v4();
    store
        .claim_messages(now, &lease(a, now + Duration::seconds(5)), 1)
        .await
        .unwrap();
    let sent = record(id, AttemptResult::Sent, now);
    store
        .record_attempts(a, std::slice::from_ref(&sent))
        .await
        .unwrap();
    // The same record again (a retry whose first write did land), then a late failure.
    store.record_attempts(a, &[sent]).await.unwrap();
    let late = AttemptResult::Retry {
        error: "timeout".into(),
        next_attempt_at: now,
    };
    store
        .record_attempts(a, &[record(id, late, now)])
        .await
        .unwrap();
    assert_eq!(
        status(store, id).await,
        (MessageStatus::Sent, 3, vec![true, true, false]),
        "every attempt is logged; the message stays sent"
    );
    let (m, _) = store.get_message(id).await.unwrap().unwrap();
    assert_eq!(m.lease_expires_at, None);
}

async fn a_worker_that_lost_its_lease_cannot_requeue_the_message(store: &Store) {
    let now = now();
    let id = queue(store, 1, now).await[0];
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .claim_messages(now, &lease(a, now + Duration::seconds(5)), 1)
        .await
        .unwrap();
    let later = now + Duration::seconds(6);
    let until_b = later + Duration::seconds(5);
    store
        .claim_messages(later, &lease(b, until_b), 1)
        .await
        .unwrap();
    let fail = AttemptResult::Retry {
        error: "connection reset".into(),
        next_attempt_at: later,
    };
    store
        .record_attempts(a, &[record(id, fail, later)])
        .await
        .unwrap();
    let (m, _) = store.get_message(id).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Processing, "still b's");
    assert_eq!(m.lease_expires_at, Some(until_b));
    assert!(
        store
            .claim_messages(later, &lease(Uuid::new_v4(), until_b), 1)
            .await
            .unwrap()
            .is_empty(),
        "nobody else can take it while b sends"
    );
    store
        .record_attempts(b, &[record(id, AttemptResult::Sent, later)])
        .await
        .unwrap();
    assert_eq!(
        status(store, id).await,
        (MessageStatus::Sent, 2, vec![false, true])
    );
}

async fn two_workers_claiming_at_once_each_get_different_messages(store: &Store) {
    let now = now();
    let ids = queue(store, 60, now).await;
    let worker = |owner: Uuid| async move {
        let mut got = Vec::new();
        loop {
            let batch = store
                .claim_messages(now, &lease(owner, now + Duration::seconds(30)), 4)
                .await
                .unwrap();
            if batch.is_empty() {
                return got;
            }
            let records: Vec<_> = batch
                .iter()
                .map(|c| record(c.message.id, AttemptResult::Sent, now))
                .collect();
            store.record_attempts(owner, &records).await.unwrap();
            got.extend(batch.into_iter().map(|c| c.message.id));
        }
    };
    let (a, b) = tokio::join!(worker(Uuid::new_v4()), worker(Uuid::new_v4()));
    let sa: HashSet<Uuid> = a.iter().copied().collect();
    let sb: HashSet<Uuid> = b.iter().copied().collect();
    assert_eq!(sa.len() + sb.len(), 60);
    assert!(sa.is_disjoint(&sb), "a message was claimed by both workers");
    for id in ids {
        assert_eq!(
            status(store, id).await,
            (MessageStatus::Sent, 1, vec![true])
        );
    }
}

async fn released_messages_are_due_again_as_if_never_claimed(store: &Store) {
    let now = now();
    let id = queue(store, 1, now).await[0];
    let a = Uuid::new_v4();
    store
        .claim_messages(now, &lease(a, now + Duration::seconds(5)), 1)
        .await
        .unwrap();
    // Someone else's release changes nothing.
    store
        .release_messages(Uuid::new_v4(), &[id], now)
        .await
        .unwrap();
    assert_eq!(status(store, id).await.0, MessageStatus::Processing);
    store.release_messages(a, &[id], now).await.unwrap();
    assert_eq!(status(store, id).await.0, MessageStatus::Queued);
    let again = store
        .claim_messages(now, &lease(a, now + Duration::seconds(5)), 1)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].unrecorded_attempts, 0,
        "a release is not a lost attempt"
    );
}

async fn expiry_and_purge_touch_only_what_is_due(store: &Store) {
    let now = now();
    let dying = message("d@example.com", Some(now + Duration::seconds(30)), now);
    let living = message("l@example.com", Some(now + Duration::seconds(600)), now);
    store
        .enqueue_messages(&[dying.clone(), living.clone()])
        .await
        .unwrap();
    let at = now + Duration::seconds(31);
    assert_eq!(
        store.expire_messages(at).await.unwrap(),
        vec![Channel::Email]
    );
    assert!(store.expire_messages(at).await.unwrap().is_empty(), "once");
    assert_eq!(status(store, dying.id).await.0, MessageStatus::Expired);
    assert_eq!(status(store, living.id).await.0, MessageStatus::Queued);
    assert_eq!(store.purge_message_bodies(at, 10).await.unwrap(), 1);
    let (d, _) = store.get_message(dying.id).await.unwrap().unwrap();
    assert!(d.is_purged() && d.subject.0.is_empty() && d.html_body.is_none());
    let (l, _) = store.get_message(living.id).await.unwrap().unwrap();
    assert!(!l.is_purged(), "a queued message keeps its texts");
}
