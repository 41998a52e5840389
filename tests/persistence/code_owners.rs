//! A code goes with its identity and with its address (on Postgres by triggers, since a
//! foreign key's check made a known address's send cost more than an unknown one's).

use chrono::Duration;
use uuid::Uuid;
use verity::persistence::Store;
use verity::persistence::challenges::{NewChallenge, SendChallenge, SendResult};

use crate::flows::{record, sent, stored_codes};
use crate::identities::{identity, t};

crate::contract!(a_code_goes_with_its_address_and_with_its_identity,);

/// A new recovery flow with one code for `identity` (whom it proves) and `address`.
async fn flow_with_code(store: &Store, identity: Option<Uuid>, address: Option<Uuid>) -> Uuid {
    let now = t();
    let f = record("recovery", now);
    store.insert_flow(&f).await.unwrap();
    let sent = store
        .send_challenge(SendChallenge {
            flow: &sent(&f),
            max_sends: 5,
            challenge: NewChallenge {
                id: Uuid::new_v4(),
                method: "code",
                secret_hmac: "mac".into(),
                identity_id: identity,
                verifiable_address_id: address,
                via: "email",
                expires_at: now + Duration::minutes(10),
                issued_at: now,
            },
            message: None,
            mark_sent: address,
            now,
        })
        .await
        .unwrap();
    assert_eq!(sent, SendResult::Sent);
    assert_eq!(stored_codes(store, f.id).await, 1);
    f.id
}

async fn a_code_goes_with_its_address_and_with_its_identity(store: &Store) {
    // An update writes the identity's addresses anew: the codes sent to them go (as before).
    let a = identity("a@example.com");
    store.insert_identity(&a).await.unwrap();
    let to_address = flow_with_code(store, None, Some(a.verifiable_addresses[0].id)).await;
    let to_identity = flow_with_code(store, Some(a.id), None).await;
    assert!(store.update_identity(&a).await.unwrap());
    assert_eq!(
        stored_codes(store, to_address).await,
        0,
        "the address's code"
    );
    assert_eq!(
        stored_codes(store, to_identity).await,
        1,
        "not the identity's"
    );

    // Deleting the identity takes the codes that prove it and those sent to its addresses.
    let to_address = flow_with_code(store, None, Some(a.verifiable_addresses[0].id)).await;
    assert!(store.delete_identity(a.id).await.unwrap());
    assert_eq!(stored_codes(store, to_identity).await, 0);
    assert_eq!(stored_codes(store, to_address).await, 0);

    // So does the removal of never-verified identities, several in one statement.
    let (b, c) = (identity("b@example.com"), identity("c@example.com"));
    store.insert_identity(&b).await.unwrap();
    store.insert_identity(&c).await.unwrap();
    let codes = [
        flow_with_code(store, Some(b.id), Some(b.verifiable_addresses[0].id)).await,
        flow_with_code(store, Some(c.id), None).await,
    ];
    let removed = store
        .delete_unverified_identities(t() + Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    for f in codes {
        assert_eq!(stored_codes(store, f).await, 0);
    }
}
