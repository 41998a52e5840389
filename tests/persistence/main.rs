//! The persistence contract: every case runs against SQLite and against PostgreSQL
//! (`TEST_DATABASE_URL`; each test gets its own schema). Without TEST_DATABASE_URL the
//! Postgres half skips loudly, and fails under CI.

mod code_owners;
mod flows;
mod identities;
mod outbox;
mod outbox_locks;
mod pg_pool;
mod phone;
mod ratelimit;
mod ratelimit_batch;
mod sessions;

use verity::persistence::Store;

#[path = "../common/pg_schema.rs"]
mod pg_schema;

pub struct Db {
    pub store: Store,
    cleanup: Option<(String, String)>,
    _dir: Option<std::path::PathBuf>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(dir) = self._dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((url, schema)) = self.cleanup.take() {
            pg_schema::drop_blocking(url, schema);
        }
    }
}

pub async fn sqlite() -> Db {
    let dir = std::env::temp_dir().join(format!("verity-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store =
        Store::connect_lazy(&format!("sqlite://{}/db.sqlite?mode=rwc", dir.display())).unwrap();
    store.migrate().await.unwrap();
    Db {
        store,
        cleanup: None,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<Db> {
    let url = pg_schema::test_database_url()?;
    let schema = pg_schema::create(&url, "c").await;
    let store = Store::postgres_with_schema(&url, &schema).unwrap();
    store.migrate().await.unwrap();
    Some(Db {
        store,
        cleanup: Some((url, schema)),
        _dir: None,
    })
}

/// Declares `mod $name { sqlite, postgres }`, running the async fn `$case(&Store)` on both.
#[macro_export]
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    verity::install_crypto_provider();
                    let db = $crate::sqlite().await;
                    super::$case(&db.store).await;
                }
                #[tokio::test]
                async fn postgres() {
                    verity::install_crypto_provider();
                    if let Some(db) = $crate::postgres().await {
                        super::$case(&db.store).await;
                    }
                }
            }
        )*
    };
}
