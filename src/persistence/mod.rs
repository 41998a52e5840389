//! The only place that holds SQL and transactions. One public method is one unit of work.
//!
//! Every query function is written once inside `backend_modules!` and compiled twice, for
//! PostgreSQL and for SQLite (`Db` names the backend inside). The placeholders (`$1`) and
//! the SQL are shared; where a dialect differs the module's `dialect` constants say so.

pub mod challenges;
mod challenges_pg;
mod challenges_tx;
pub mod cleanup;
mod connect;
pub(crate) mod courier;
mod courier_list;
mod courier_record;
mod courier_rows;
pub mod courier_wake;
pub mod errors;
pub mod flows;
mod identities;
mod identity_expiry;
mod metrics;
mod passwords;
pub mod pg_pool;
pub mod phone;
mod ratelimit;
pub mod recovery;
mod rows;
pub mod sessions;

pub use pg_pool::PgPool;
use sqlx::SqlitePool;

pub use courier_rows::{
    AttemptRecord, AttemptResult, Channel, ClaimedMessage, Dispatch, Lease, MessageFilter,
    MessagePage, MessageStatus, OutboxMessage, Sealed,
};
pub use identities::{CredentialHolder, IdentityPage};
pub use ratelimit::CounterHit;

/// Writes `mod pg` and `mod lite` from one body, with `Db` bound to the backend.
macro_rules! backend_modules {
    ($($body:tt)*) => {
        pub(super) mod pg {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            type Db = sqlx::Postgres;
            #[allow(unused_imports)]
            use $crate::persistence::dialect::postgres as dialect;
            #[allow(dead_code)]
            type DbPool = dialect::Pool;
            #[allow(dead_code)]
            type DbTx = dialect::Tx;
            $($body)*
        }
        pub(super) mod lite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            type Db = sqlx::Sqlite;
            #[allow(unused_imports)]
            use $crate::persistence::dialect::sqlite as dialect;
            #[allow(dead_code)]
            type DbPool = dialect::Pool;
            #[allow(dead_code)]
            type DbTx = dialect::Tx;
            $($body)*
        }
    };
}
pub(crate) use backend_modules;

/// Calls `pg::function(pool, args..)` or `lite::function(..)` of the calling module,
/// whichever backend the store has; or, for a unit of work whose dialects are written
/// apart, the two functions named (`dispatch!(store, pg: a::f, lite: b::g, args..)`). A unit
/// of work that queued a message wakes the couriers once it has committed (`courier_wake`).
macro_rules! dispatch {
    ($store:expr, $func:ident ( $($arg:expr),* $(,)? )) => {
        $crate::persistence::dispatch!($store, pg: pg::$func, lite: lite::$func, $($arg),*)
    };
    ($store:expr, pg: $pg:path, lite: $lite:path, $($arg:expr),* $(,)?) => {{
        let store: &$crate::persistence::Store = $store;
        $crate::persistence::courier_wake::after_commit(store, async {
            match store {
                $crate::persistence::Store::Postgres(pool) => $pg(pool, $($arg),*).await,
                $crate::persistence::Store::Sqlite(pool) => $lite(pool, $($arg),*).await,
            }
        })
        .await
    }};
}
pub(crate) use dispatch;

pub(crate) mod dialect {
    pub mod postgres {
        /// Statement that opens a transaction that will write.
        pub const BEGIN_WRITE: &str = "BEGIN";
        pub type Pool = crate::persistence::pg_pool::PgPool;
        pub type Tx = crate::persistence::pg_pool::PgTx;
        /// Gives back a hand-taken connection whose every statement was awaited to its answer.
        pub fn release_answered(conn: crate::persistence::pg_pool::PgConn) {
            conn.release_answered();
        }
        /// The outbox of the same backend, for units of work that queue a message.
        pub(in crate::persistence) use crate::persistence::courier::pg as outbox;
        pub(in crate::persistence) use crate::persistence::identities::pg as identities;
    }
    pub mod sqlite {
        /// Takes the write lock up front, so two writers queue on busy_timeout instead of
        /// failing with SQLITE_BUSY when a reader tries to upgrade.
        pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
        pub type Pool = sqlx::SqlitePool;
        pub type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
        /// Gives back a hand-taken connection (sqlx's pool checks it in-process).
        pub fn release_answered(conn: sqlx::pool::PoolConnection<sqlx::Sqlite>) {
            drop(conn);
        }
        pub(in crate::persistence) use crate::persistence::courier::lite as outbox;
        pub(in crate::persistence) use crate::persistence::identities::lite as identities;
    }
}

/// Ends a unit of work: commit on success, an explicit rollback on failure. Dropping an open
/// transaction would only queue the ROLLBACK until the connection's next use, holding its
/// locks meanwhile.
pub(crate) async fn finish<T>(
    tx: impl UnitOfWork,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// An open transaction of either backend.
pub(crate) trait UnitOfWork {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl UnitOfWork for sqlx::Transaction<'_, sqlx::Sqlite> {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        sqlx::Transaction::commit(self)
    }
    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        sqlx::Transaction::rollback(self)
    }
}

impl UnitOfWork for pg_pool::PgTx {
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        pg_pool::PgTx::commit(self)
    }
    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        pg_pool::PgTx::rollback(self)
    }
}

#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A unique constraint refused the write.
    #[error("the record conflicts with an existing one")]
    Conflict(#[source] sqlx::Error),
    #[error("the database failed")]
    Unexpected(#[source] sqlx::Error),
    #[error("the stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let err = Self::classify(e);
        crate::metrics::database_error(match &err {
            Self::Unavailable(sqlx::Error::PoolTimedOut) => "timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Conflict(_) => "conflict",
            _ => "unexpected",
        });
        err
    }
}

impl StoreError {
    fn classify(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                Self::Unavailable(e)
            }
            E::Database(db) if db.is_unique_violation() => Self::Conflict(e),
            E::Database(db) if postgres_unavailable(db.code().as_deref(), db.message()) => {
                Self::Unavailable(e)
            }
            // SQLite: busy or locked beyond busy_timeout.
            E::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
                Self::Unavailable(e)
            }
            _ => Self::Unexpected(e),
        }
    }
}

/// Postgres errors that mean "not reachable now" rather than "this request is wrong": any
/// connection exception (class 08), operator intervention (57P: shutdown, starting up),
/// too many connections (53300) and a database refusing connections (55000 at connect).
fn postgres_unavailable(code: Option<&str>, message: &str) -> bool {
    match code {
        Some(c) if c.starts_with("08") || c.starts_with("57P") => true,
        Some("53300" | "53400") => true,
        Some("55000") => message.contains("accepting connections"),
        _ => false,
    }
}

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "unsupported dsn scheme {0:?}: use `memory`, `sqlite://path` or `postgres://user:pass@host/db`"
    )]
    Scheme(String),
    #[error("invalid dsn parameter {0}")]
    Parameter(String),
    #[error("invalid dsn: {0}")]
    Invalid(#[source] sqlx::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
}

impl Store {
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Postgres(p) => PG_MIGRATIONS.run(&mut *p.acquire().await?).await,
            Self::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await,
        }
    }

    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, StoreError> {
        use sqlx::migrate::Migrate;
        let (migrator, applied) = match self {
            Self::Postgres(p) => {
                let mut c = p.acquire().await?;
                c.ensure_migrations_table("_sqlx_migrations")
                    .await
                    .map_err(migrate_err)?;
                (
                    &PG_MIGRATIONS,
                    c.list_applied_migrations("_sqlx_migrations")
                        .await
                        .map_err(migrate_err)?,
                )
            }
            Self::Sqlite(p) => {
                let mut c = p.acquire().await?;
                c.ensure_migrations_table("_sqlx_migrations")
                    .await
                    .map_err(migrate_err)?;
                (
                    &SQLITE_MIGRATIONS,
                    c.list_applied_migrations("_sqlx_migrations")
                        .await
                        .map_err(migrate_err)?,
                )
            }
        };
        Ok(migrator
            .iter()
            .map(|m| MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.iter().any(|a| a.version == m.version),
            })
            .collect())
    }

    /// Answers whether the database responds, for `/health/ready`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
            Self::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.forget_outbox_wake();
        match self {
            Self::Postgres(p) => p.close().await,
            Self::Sqlite(p) => p.close().await,
        }
    }
}

fn migrate_err(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => e.into(),
        other => StoreError::Corrupt(other.to_string()),
    }
}
