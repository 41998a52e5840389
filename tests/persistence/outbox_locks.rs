//! Postgres only: the courier's heartbeat never waits for a row another statement holds.
//! It used to, and the recorder's batch, holding rows the heartbeat wanted while waiting for
//! rows the heartbeat had locked, made a deadlock that Postgres broke after a second.

use std::str::FromStr;

use chrono::{Duration, SubsecRound, Utc};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use uuid::Uuid;
use verity::persistence::{Lease, Store};

use crate::outbox::message;
use crate::pg_schema;

#[tokio::test]
async fn the_heartbeat_skips_a_row_being_written_and_renews_it_on_the_next_beat() {
    verity::install_crypto_provider();
    let Some(url) = pg_schema::test_database_url() else {
        return;
    };
    let schema = pg_schema::create(&url, "locks").await;
    let store = Store::postgres_with_schema(&url, &schema).unwrap();
    store.migrate().await.unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let ms = vec![
        message("a@example.com", None, now),
        message("b@example.com", None, now),
    ];
    store.enqueue_messages(&ms).await.unwrap();
    let owner = Uuid::new_v4();
    let lease = Lease {
        owner,
        until: now + Duration::seconds(5),
    };
    assert_eq!(store.claim_messages(now, &lease, 2).await.unwrap().len(), 2);

    // Another statement (as the recorder's would) holds the first row, uncommitted.
    let opts = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut other = PgConnection::connect_with(&opts).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    sqlx::query("UPDATE courier_messages SET last_error = 'being recorded' WHERE id = $1")
        .bind(ms[0].id)
        .execute(&mut *tx)
        .await
        .unwrap();

    let renewed = now + Duration::seconds(20);
    let beat = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.renew_leases(owner, renewed),
    )
    .await
    .expect("the heartbeat waited for a row another statement holds");
    assert_eq!(beat.unwrap(), 1, "the row nobody holds is renewed");
    tx.rollback().await.unwrap();
    assert_eq!(
        store.renew_leases(owner, renewed).await.unwrap(),
        2,
        "the next beat renews both"
    );
    drop(other);
    drop(store);
    pg_schema::drop_blocking(url, schema);
}
