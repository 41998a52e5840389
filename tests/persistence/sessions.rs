use serde_json::json;
use uuid::Uuid;
use verity::persistence::sessions::NewSession;
use verity::persistence::{Store, StoreError};
use verity::session::{AuthMethod, Session};

use crate::identities::{identity, t};

crate::contract!(
    register_stores_identity_and_session_together,
    a_conflicting_registration_writes_no_session,
    a_conflicting_registration_queues_the_notice_and_nothing_else,
    a_new_registration_leaves_the_notice_unqueued,
    replace_session_ends_the_previous_one,
    sessions_are_found_by_digest_only,
    deactivate_all_keeps_the_named_session,
    an_identity_update_can_end_the_other_sessions_with_it,
    all_sessions_page_newest_first_with_the_active_filter,
);

fn session(identity: Uuid) -> Session {
    let now = t();
    Session {
        id: Uuid::new_v4(),
        identity_id: identity,
        active: true,
        aal: "aal1".into(),
        authentication_methods: vec![AuthMethod {
            method: "password".into(),
            aal: "aal1".into(),
            completed_at: now,
            provider: None,
        }],
        devices: vec![],
        authenticated_at: now,
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
    }
}

fn rows<'a>(s: &'a Session, token: &'a str) -> NewSession<'a> {
    NewSession {
        session: s,
        token_hash: token,
    }
}

async fn register_stores_identity_and_session_together(store: &Store) {
    let i = identity("together@example.com");
    let s = session(i.id);
    store
        .register_identity(&i, Some(rows(&s, "t1")), None)
        .await
        .unwrap();
    assert_eq!(store.get_identity(i.id).await.unwrap().unwrap().id, i.id);
    assert_eq!(store.session_by_token_hash("t1").await.unwrap().unwrap(), s);
}

async fn a_conflicting_registration_writes_no_session(store: &Store) {
    let first = identity("same@example.com");
    store.register_identity(&first, None, None).await.unwrap();
    let second = identity("same@example.com");
    let s = session(second.id);
    let err = store
        .register_identity(&second, Some(rows(&s, "t2")), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(store.session_by_token_hash("t2").await.unwrap().is_none());
    assert!(store.get_identity(second.id).await.unwrap().is_none());
}

async fn a_conflicting_registration_queues_the_notice_and_nothing_else(store: &Store) {
    let first = identity("held@example.com");
    store.register_identity(&first, None, None).await.unwrap();
    let second = identity("held@example.com");
    let s = session(second.id);
    let notice = crate::outbox::message("held@example.com", None, t());
    let err = store
        .register_identity(&second, Some(rows(&s, "t3")), Some(&notice))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(store.get_identity(second.id).await.unwrap().is_none());
    assert!(store.session_by_token_hash("t3").await.unwrap().is_none());
    let (queued, _) = store.get_message(notice.id).await.unwrap().unwrap();
    assert_eq!(queued.recipient, "held@example.com");
    // The first identity is untouched.
    let kept = store.get_identity(first.id).await.unwrap().unwrap();
    assert_eq!(
        kept.verifiable_addresses.len(),
        first.verifiable_addresses.len()
    );
}

async fn a_new_registration_leaves_the_notice_unqueued(store: &Store) {
    let i = identity("fresh-holder@example.com");
    let notice = crate::outbox::message("fresh-holder@example.com", None, t());
    store
        .register_identity(&i, None, Some(&notice))
        .await
        .unwrap();
    assert!(store.get_identity(i.id).await.unwrap().is_some());
    assert!(store.get_message(notice.id).await.unwrap().is_none());
}

async fn replace_session_ends_the_previous_one(store: &Store) {
    let i = identity("replace@example.com");
    let old = session(i.id);
    store
        .register_identity(&i, Some(rows(&old, "old")), None)
        .await
        .unwrap();
    let new = session(i.id);
    store
        .replace_session(rows(&new, "new"), Some(old.id))
        .await
        .unwrap();
    assert!(!store.get_session(old.id).await.unwrap().unwrap().active);
    assert!(store.get_session(new.id).await.unwrap().unwrap().active);
}

async fn sessions_are_found_by_digest_only(store: &Store) {
    let i = identity("digest@example.com");
    let s = session(i.id);
    store
        .register_identity(&i, Some(rows(&s, "tok-hash")), None)
        .await
        .unwrap();
    assert!(
        store
            .session_by_token_hash("lo-hash")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .session_by_token_hash("tok-hash")
            .await
            .unwrap()
            .unwrap()
            .id,
        s.id
    );
    let later = s.expires_at + chrono::Duration::hours(1);
    store.extend_session(s.id, later, t()).await.unwrap();
    assert_eq!(
        store.get_session(s.id).await.unwrap().unwrap().expires_at,
        later
    );
}

async fn deactivate_all_keeps_the_named_session(store: &Store) {
    let i = identity("all@example.com");
    store.register_identity(&i, None, None).await.unwrap();
    let keep = session(i.id);
    store.insert_session(rows(&keep, "k")).await.unwrap();
    for n in 0..3 {
        let s = session(i.id);
        store
            .insert_session(rows(&s, &format!("x{n}")))
            .await
            .unwrap();
    }
    let ended = store
        .deactivate_identity_sessions(i.id, Some(keep.id), t())
        .await
        .unwrap();
    assert_eq!(ended, 3);
    let active = store.list_sessions(i.id, true).await.unwrap();
    assert_eq!(active.iter().map(|s| s.id).collect::<Vec<_>>(), [keep.id]);
    assert_eq!(store.list_sessions(i.id, false).await.unwrap().len(), 4);
    assert!(store.deactivate_session(keep.id, t()).await.unwrap());
    assert!(
        !store.deactivate_session(keep.id, t()).await.unwrap(),
        "already ended"
    );
}

async fn an_identity_update_can_end_the_other_sessions_with_it(store: &Store) {
    let mut i = identity("rotate@example.com");
    let keep = session(i.id);
    store
        .register_identity(&i, Some(rows(&keep, "keep")), None)
        .await
        .unwrap();
    let other = session(i.id);
    store.insert_session(rows(&other, "other")).await.unwrap();
    i.traits = json!({"email": "rotate@example.com", "changed": true});
    assert!(
        store
            .update_identity_with_messages(&i, &[], Some(keep.id))
            .await
            .unwrap()
    );
    assert!(store.get_session(keep.id).await.unwrap().unwrap().active);
    assert!(!store.get_session(other.id).await.unwrap().unwrap().active);
    let missing = identity("nobody@example.com");
    assert!(
        !store
            .update_identity_with_messages(&missing, &[], Some(keep.id))
            .await
            .unwrap()
    );
    assert!(
        store.get_session(keep.id).await.unwrap().unwrap().active,
        "nothing else written"
    );
}

/// `GET /admin/sessions`: newest first, pages continue after the last session shown (ties in
/// `issued_at` broken by id), and the active filter counts expiry.
async fn all_sessions_page_newest_first_with_the_active_filter(store: &Store) {
    let i = identity("paged@example.com");
    store.register_identity(&i, None, None).await.unwrap();
    let mut made = Vec::new();
    for n in 0..5 {
        let mut s = session(i.id);
        // Two sessions share an instant; one has expired.
        s.issued_at = t() + chrono::Duration::seconds([0, 1, 1, 2, 3][n]);
        if n == 4 {
            s.expires_at = t() - chrono::Duration::seconds(1);
        }
        store
            .insert_session(rows(&s, &format!("p{n}")))
            .await
            .unwrap();
        made.push(s);
    }
    let now = t() + chrono::Duration::seconds(10);
    let mut shown = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = store.list_all_sessions(after, 2, None, now).await.unwrap();
        assert!(page.len() <= 2);
        after = page.last().map(|s| s.id);
        shown.extend(page);
        if !more {
            break;
        }
    }
    let mut expected = made.clone();
    expected.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then(b.id.cmp(&a.id)));
    let ids = |v: &[Session]| v.iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(&shown), ids(&expected));
    let (active, _) = store
        .list_all_sessions(None, 10, Some(true), now)
        .await
        .unwrap();
    assert_eq!(active.len(), 4);
    let (ended, _) = store
        .list_all_sessions(None, 10, Some(false), now)
        .await
        .unwrap();
    assert_eq!(ids(&ended), vec![made[4].id]);
}
