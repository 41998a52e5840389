use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::json;
use uuid::Uuid;
use verity::identity::{
    AddressStatus, Credential, Identity, IdentityState, RecoveryAddress, VerifiableAddress,
};
use verity::persistence::{Store, StoreError};
use verity::schema::Via;

crate::contract!(
    insert_then_get_returns_the_same_identity,
    duplicate_identifier_conflicts_and_writes_nothing,
    duplicate_verifiable_address_conflicts,
    duplicate_recovery_address_conflicts_and_an_update_into_one_changes_nothing,
    update_replaces_children,
    update_of_missing_identity_reports_false,
    delete_cascades_and_reports,
    list_pages_in_id_order_and_filters_by_identifier,
    find_by_identifier_uses_type_and_value,
    migration_status_lists_applied_steps,
);

pub fn t() -> DateTime<Utc> {
    // Both backends keep microseconds.
    Utc::now().trunc_subsecs(6)
}

pub fn identity(email: &str) -> Identity {
    let now = t();
    Identity {
        id: Uuid::new_v4(),
        schema_id: "default".into(),
        state: IdentityState::Active,
        state_changed_at: None,
        traits: json!({"email": email}),
        verifiable_addresses: vec![VerifiableAddress {
            id: Uuid::new_v4(),
            value: email.into(),
            verified: false,
            via: Via::Email,
            status: AddressStatus::Pending,
            verified_at: None,
            created_at: now,
            updated_at: now,
        }],
        recovery_addresses: vec![RecoveryAddress {
            id: Uuid::new_v4(),
            value: email.into(),
            via: Via::Email,
            created_at: now,
            updated_at: now,
        }],
        metadata_public: Some(json!({"a": 1})),
        metadata_admin: None,
        credentials: vec![Credential {
            id: Uuid::new_v4(),
            kind: "password".into(),
            identifiers: vec![email.into()],
            config: json!({"hashed_password": "$argon2id$x"}),
            version: 0,
            created_at: now,
            updated_at: now,
        }],
        external_id: None,
        created_at: now,
        updated_at: now,
    }
}

async fn insert_then_get_returns_the_same_identity(store: &Store) {
    let i = identity("a@example.com");
    store.insert_identity(&i).await.unwrap();
    assert_eq!(store.get_identity(i.id).await.unwrap(), Some(i));
    assert_eq!(store.get_identity(Uuid::new_v4()).await.unwrap(), None);
}

async fn duplicate_identifier_conflicts_and_writes_nothing(store: &Store) {
    store
        .insert_identity(&identity("a@example.com"))
        .await
        .unwrap();
    let mut dup = identity("b@example.com");
    dup.credentials[0].identifiers = vec!["a@example.com".into()];
    let err = store.insert_identity(&dup).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_identity(dup.id).await.unwrap(),
        None,
        "the transaction rolled back"
    );
    let page = store.list_identities(None, 10, None).await.unwrap();
    assert_eq!(page.identities.len(), 1);
}

async fn duplicate_verifiable_address_conflicts(store: &Store) {
    store
        .insert_identity(&identity("a@example.com"))
        .await
        .unwrap();
    let mut dup = identity("b@example.com");
    dup.verifiable_addresses[0].value = "a@example.com".into();
    assert!(matches!(
        store.insert_identity(&dup).await,
        Err(StoreError::Conflict(_))
    ));
}

// Conflicting children are skipped, not failed, so that a duplicate runs every statement a
// new identity runs (SECURITY.md C3); the conflict must still undo the whole write.
async fn duplicate_recovery_address_conflicts_and_an_update_into_one_changes_nothing(
    store: &Store,
) {
    let a = identity("a@example.com");
    store.insert_identity(&a).await.unwrap();
    let mut dup = identity("b@example.com");
    dup.recovery_addresses[0].value = "a@example.com".into();
    let err = store.insert_identity(&dup).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_identity(dup.id).await.unwrap(), None);
    let page = store
        .list_identities(None, 10, Some("b@example.com"))
        .await
        .unwrap();
    assert!(page.identities.is_empty(), "no identifier of it was kept");

    let b = identity("b@example.com");
    store.insert_identity(&b).await.unwrap();
    let mut moved = b.clone();
    moved.verifiable_addresses[0].value = "a@example.com".into();
    moved.credentials[0].identifiers = vec!["b2@example.com".into()];
    let err = store.update_identity(&moved).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_identity(b.id).await.unwrap(),
        Some(b),
        "the update rolled back, its deleted children too"
    );
}

async fn update_replaces_children(store: &Store) {
    let mut i = identity("a@example.com");
    store.insert_identity(&i).await.unwrap();
    i.traits = json!({"email": "c@example.com"});
    i.verifiable_addresses[0].value = "c@example.com".into();
    i.verifiable_addresses[0].verified = true;
    i.verifiable_addresses[0].status = AddressStatus::Completed;
    i.verifiable_addresses[0].verified_at = Some(t());
    i.recovery_addresses[0].value = "c@example.com".into();
    i.credentials[0].identifiers = vec!["c@example.com".into()];
    i.state = IdentityState::Inactive;
    i.updated_at = t() + Duration::seconds(1);
    assert!(store.update_identity(&i).await.unwrap());
    assert_eq!(store.get_identity(i.id).await.unwrap(), Some(i.clone()));
    // The old identifier is free again.
    store
        .insert_identity(&identity("a@example.com"))
        .await
        .unwrap();
}

async fn update_of_missing_identity_reports_false(store: &Store) {
    assert!(
        !store
            .update_identity(&identity("a@example.com"))
            .await
            .unwrap()
    );
}

async fn delete_cascades_and_reports(store: &Store) {
    let i = identity("a@example.com");
    store.insert_identity(&i).await.unwrap();
    assert!(store.delete_identity(i.id).await.unwrap());
    assert!(!store.delete_identity(i.id).await.unwrap());
    // Addresses and identifiers went with it, so they can be used again.
    store
        .insert_identity(&identity("a@example.com"))
        .await
        .unwrap();
}

async fn list_pages_in_id_order_and_filters_by_identifier(store: &Store) {
    let mut ids = Vec::new();
    for n in 0..7 {
        let i = identity(&format!("u{n}@example.com"));
        ids.push(i.id);
        store.insert_identity(&i).await.unwrap();
    }
    ids.sort();
    let first = store.list_identities(None, 3, None).await.unwrap();
    assert!(first.has_more);
    let got: Vec<Uuid> = first.identities.iter().map(|i| i.id).collect();
    assert_eq!(got, ids[..3]);
    assert_eq!(
        first.identities[0].verifiable_addresses.len(),
        1,
        "children come along"
    );
    let second = store.list_identities(Some(ids[2]), 3, None).await.unwrap();
    assert_eq!(
        second.identities.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[3..6]
    );
    let last = store.list_identities(Some(ids[5]), 3, None).await.unwrap();
    assert!(!last.has_more);
    assert_eq!(last.identities.len(), 1);
    let one = store
        .list_identities(None, 10, Some("u4@example.com"))
        .await
        .unwrap();
    assert_eq!(one.identities.len(), 1);
    assert_eq!(one.identities[0].traits["email"], "u4@example.com");
    // Children of identities outside the filter never leak into the page.
    assert_eq!(one.identities[0].verifiable_addresses.len(), 1);
}

async fn find_by_identifier_uses_type_and_value(store: &Store) {
    let i = identity("a@example.com");
    store.insert_identity(&i).await.unwrap();
    let found = store
        .find_identity_by_identifier("password", "a@example.com")
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(i.id));
    assert!(
        store
            .find_identity_by_identifier("code", "a@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_identity_by_identifier("password", "b@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

async fn migration_status_lists_applied_steps(store: &Store) {
    let status = store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| m.applied));
    assert_eq!(status[0].version, 1);
}
