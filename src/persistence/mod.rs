//! The only place that holds SQL and transactions. One public method is one unit of work.
//!
//! Every query function is written once inside `backend_modules!` and compiled twice, for
//! PostgreSQL and for SQLite (`Db` names the backend inside). The placeholders (`$1`) and
//! the SQL are shared; where a dialect differs the module's `dialect` constants say so.

pub mod challenges;
pub mod cleanup;
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
pub mod phone;
mod ratelimit;
pub mod recovery;
mod rows;
pub mod sessions;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use courier_rows::{
    AttemptRecord, AttemptResult, Channel, ClaimedMessage, Dispatch, Lease, MessageFilter,
    MessagePage, MessageStatus, OutboxMessage, Sealed,
};
pub use identities::IdentityPage;
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
            $($body)*
        }
        pub(super) mod lite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            type Db = sqlx::Sqlite;
            #[allow(unused_imports)]
            use $crate::persistence::dialect::sqlite as dialect;
            $($body)*
        }
    };
}
pub(crate) use backend_modules;

/// Calls `pg::function(pool, args..)` or `lite::function(..)` of the calling module,
/// whichever backend the store has. A unit of work that queued a message wakes the couriers
/// once it has committed (`courier_wake`).
macro_rules! dispatch {
    ($store:expr, $func:ident ( $($arg:expr),* $(,)? )) => {{
        let store: &$crate::persistence::Store = $store;
        $crate::persistence::courier_wake::after_commit(store, async {
            match store {
                $crate::persistence::Store::Postgres(pool) => pg::$func(pool, $($arg),*).await,
                $crate::persistence::Store::Sqlite(pool) => lite::$func(pool, $($arg),*).await,
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
        /// The outbox of the same backend, for units of work that queue a message.
        pub(in crate::persistence) use crate::persistence::courier::pg as outbox;
        pub(in crate::persistence) use crate::persistence::flows::pg as flows;
        pub(in crate::persistence) use crate::persistence::identities::pg as identities;
    }
    pub mod sqlite {
        /// Takes the write lock up front, so two writers queue on busy_timeout instead of
        /// failing with SQLITE_BUSY when a reader tries to upgrade.
        pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
        pub(in crate::persistence) use crate::persistence::courier::lite as outbox;
        pub(in crate::persistence) use crate::persistence::flows::lite as flows;
        pub(in crate::persistence) use crate::persistence::identities::lite as identities;
    }
}

/// Ends a unit of work: commit on success, an explicit rollback on failure. Dropping an open
/// transaction would only queue the ROLLBACK until the connection's next use, holding its
/// locks meanwhile.
pub(crate) async fn finish<DB: sqlx::Database, T>(
    tx: sqlx::Transaction<'static, DB>,
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
    /// Builds a pool from a Kratos-style DSN. Connections are made lazily, so a server can start
    /// while its database is still coming up; `/health/ready` says when it answers.
    pub fn connect_lazy(dsn: &str) -> Result<Self, ConnectError> {
        if dsn == "memory" || dsn.starts_with("sqlite:") {
            return Ok(Self::Sqlite(sqlite_pool(dsn)?));
        }
        if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
            let (dsn, max_conns) = take_max_conns(dsn)?;
            let opts = PgConnectOptions::from_str(&dsn).map_err(ConnectError::Invalid)?;
            return Ok(Self::Postgres(postgres_pool_of(opts, max_conns)));
        }
        let scheme = dsn.split("://").next().unwrap_or_default();
        Err(ConnectError::Scheme(scheme.to_owned()))
    }

    /// For tests: a pool on an existing Postgres with a given search_path (one schema per test).
    pub fn postgres_with_schema(url: &str, schema: &str) -> Result<Self, ConnectError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(ConnectError::Invalid)?
            .options([("search_path", schema)]);
        Ok(Self::Postgres(postgres_pool(opts)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Postgres(p) => PG_MIGRATIONS.run(p).await,
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

/// Connections per process unless the DSN says `max_conns=N` (Kratos's parameter).
const DEFAULT_MAX_CONNS: u32 = 16;

fn postgres_pool(opts: PgConnectOptions) -> PgPool {
    postgres_pool_of(opts, DEFAULT_MAX_CONNS)
}

/// Removes Kratos's `max_conns` from a Postgres DSN (libpq would refuse it) and reads it.
fn take_max_conns(dsn: &str) -> Result<(String, u32), ConnectError> {
    let Some((base, query)) = dsn.split_once('?') else {
        return Ok((dsn.to_owned(), DEFAULT_MAX_CONNS));
    };
    let mut max = DEFAULT_MAX_CONNS;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_conns", n)) => {
                max = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ConnectError::Parameter(format!("max_conns={n}: expected a positive number"))
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let dsn = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((dsn, max))
}

/// A pooled Postgres connection idle for longer than this is pinged before use (the server or
/// a proxy may have closed it meanwhile); one in steady use is not, since sqlx's default (a
/// ping on every acquire) costs a database round trip per store call. A connection that broke
/// anyway fails its statement, is dropped, and the next acquire opens a fresh one.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

fn postgres_pool_of(opts: PgConnectOptions, max_conns: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_conns)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(opts)
}

fn sqlite_pool(dsn: &str) -> Result<SqlitePool, ConnectError> {
    let memory = dsn == "memory" || dsn.contains(":memory:") || dsn.contains("mode=memory");
    // Kratos DSNs carry `_fk=true`; foreign keys are always on here, so drop Go-only params.
    let cleaned = if dsn == "memory" {
        "sqlite::memory:".to_owned()
    } else {
        strip_go_params(dsn)
    };
    let opts = SqliteConnectOptions::from_str(&cleaned)
        .map_err(ConnectError::Invalid)?
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let opts = if memory {
        opts
    } else {
        opts.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
    };
    // An in-memory database lives as long as its one connection, so keep exactly one forever.
    let pool = if memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(8)
    };
    // A SQLite connection is a file handle: nothing can close it behind the pool's back, so
    // no ping before use (each would be a trip through the connection's worker thread).
    Ok(pool
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(opts))
}

fn strip_go_params(dsn: &str) -> String {
    let Some((base, query)) = dsn.split_once('?') else {
        return dsn.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with('_') && !p.is_empty())
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_only_params_are_dropped() {
        assert_eq!(strip_go_params("sqlite://a.db?_fk=true"), "sqlite://a.db");
        assert_eq!(
            strip_go_params("sqlite://a.db?_fk=true&mode=rwc"),
            "sqlite://a.db?mode=rwc"
        );
    }

    #[tokio::test]
    async fn kratos_max_conns_sets_the_pool_size() {
        let (dsn, max) = take_max_conns("postgres://u@h/db?sslmode=disable&max_conns=40").unwrap();
        assert_eq!(
            (dsn.as_str(), max),
            ("postgres://u@h/db?sslmode=disable", 40)
        );
        assert_eq!(
            take_max_conns("postgres://u@h/db").unwrap().1,
            DEFAULT_MAX_CONNS
        );
        assert!(take_max_conns("postgres://u@h/db?max_conns=0").is_err());
        let Store::Postgres(pool) = Store::connect_lazy("postgres://u@h/db?max_conns=5").unwrap()
        else {
            panic!("a postgres store");
        };
        assert_eq!(pool.options().get_max_connections(), 5);
    }

    #[test]
    fn unknown_scheme_is_refused() {
        let err = Store::connect_lazy("mysql://x").unwrap_err();
        assert!(err.to_string().contains("mysql"));
    }
}
