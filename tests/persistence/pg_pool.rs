//! The Postgres pool: a connection is idle again as soon as its work answered (no ping on
//! release), and nothing left half-done on it reaches the next user: a query dropped
//! half-way, an open transaction of the pool's, an open transaction of sqlx's.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use verity::persistence::PgPool;

use crate::pg_schema;

/// A pool of `max` connections on a fresh schema holding `t (id int primary key)`.
async fn pool(max: u32) -> Option<(PgPool, String, String)> {
    let url = pg_schema::test_database_url()?;
    let schema = pg_schema::create(&url, "pool").await;
    let opts = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPool::new(opts, max, Duration::from_secs(3));
    sqlx::query("CREATE TABLE t (id INT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    Some((pool, url, schema))
}

async fn pid(pool: &PgPool) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_connection_is_idle_again_once_its_statement_answered() {
    let Some((pool, url, schema)) = pool(1).await else {
        return;
    };
    let first = pid(&pool).await;
    // No await in between: the release did not wait for a round trip.
    assert_eq!(pool.num_idle(), 1, "back in the pool at once");
    assert_eq!(pid(&pool).await, first, "the same connection, reused");
    assert_eq!(pool.size(), 1);
    pg_schema::drop_blocking(url, schema);
}

#[tokio::test]
async fn a_statement_dropped_half_way_leaves_no_answer_for_the_next_one() {
    let Some((pool, url, schema)) = pool(1).await else {
        return;
    };
    let first = pid(&pool).await;
    let slow = sqlx::query_scalar::<_, i32>("SELECT 7 FROM pg_sleep(0.3)").fetch_one(&pool);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err(),
        "the slow statement was cut off"
    );
    let next: i32 = sqlx::query_scalar("SELECT 8")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(next, 8, "its own answer, not the dropped statement's");
    assert_eq!(pid(&pool).await, first, "on the same connection");
    pg_schema::drop_blocking(url, schema);
}

#[tokio::test]
async fn a_transaction_dropped_open_is_rolled_back_and_frees_its_locks() {
    let Some((pool, url, schema)) = pool(2).await else {
        return;
    };
    let mut tx = pool.begin_with("BEGIN").await.unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    // Were the transaction still open, this insert would wait on its key.
    let insert = sqlx::query("INSERT INTO t VALUES (1)").execute(&pool);
    tokio::time::timeout(Duration::from_secs(2), insert)
        .await
        .expect("not blocked by the dropped transaction")
        .expect("the dropped insert was rolled back");
    assert_eq!(rows(&pool).await, 1);
    let tx = pool.begin_with("BEGIN").await.unwrap();
    tx.commit().await.unwrap();
    assert!(pool.size() <= 2);
    pg_schema::drop_blocking(url, schema);
}

#[tokio::test]
async fn an_sqlx_transaction_left_open_is_rolled_back_before_the_connection_is_reused() {
    let Some((pool, url, schema)) = pool(1).await else {
        return;
    };
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    drop(tx);
    drop(conn);
    // The one connection comes back only after its ROLLBACK was answered: it would see
    // its own uncommitted row.
    assert_eq!(rows(&pool).await, 0);
    // Outside a transaction block a savepoint is refused.
    let savepoint = sqlx::query("SAVEPOINT probe").execute(&pool).await;
    assert!(
        savepoint.is_err(),
        "no transaction open on the reused connection"
    );
    pg_schema::drop_blocking(url, schema);
}

#[tokio::test]
async fn a_hand_taken_connection_released_answered_is_idle_at_once() {
    let Some((pool, url, schema)) = pool(1).await else {
        return;
    };
    let mut conn = pool.acquire().await.unwrap();
    let first: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    conn.release_answered();
    // No await in between: no ping was needed before it went back.
    assert_eq!(pool.num_idle(), 1, "back in the pool at once");
    assert_eq!(pid(&pool).await, first, "the same connection, reused");
    // Dropped as it is, a hand-taken connection is pinged first: not idle at once.
    let conn = pool.acquire().await.unwrap();
    drop(conn);
    assert_eq!(pool.num_idle(), 0, "pinged before it goes back");
    assert_eq!(pid(&pool).await, first, "and then reused");
    pg_schema::drop_blocking(url, schema);
}
