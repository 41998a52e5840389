//! Connecting: a Kratos-style DSN becomes a Postgres or SQLite pool (Kratos's `max_conns`,
//! Go-only SQLite parameters dropped, pings only after a connection sat idle).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{ConnectError, PgPool, Store};

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
}

/// Connections per process unless the DSN says `max_conns=N` (Kratos's parameter).
const DEFAULT_MAX_CONNS: u32 = 16;

fn postgres_pool(opts: PgConnectOptions) -> PgPool {
    postgres_pool_of(opts, DEFAULT_MAX_CONNS)
}

/// Removes Kratos's `max_conns` from a Postgres DSN (libpq would refuse it) and reads it.
fn take_max_conns(dsn: &str) -> Result<(String, u32), ConnectError> {
    take_max_conns_or(dsn, DEFAULT_MAX_CONNS)
}

/// Removes `max_conns` from a DSN and reads it (`default` when absent).
fn take_max_conns_or(dsn: &str, default: u32) -> Result<(String, u32), ConnectError> {
    let Some((base, query)) = dsn.split_once('?') else {
        return Ok((dsn.to_owned(), default));
    };
    let mut max = default;
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

/// Connections are opened on first use; an acquire waits at most this long for one.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

fn postgres_pool_of(opts: PgConnectOptions, max_conns: u32) -> PgPool {
    PgPool::new(opts, max_conns, PG_ACQUIRE_TIMEOUT)
}

/// Connections to a SQLite file unless the DSN says `max_conns=N`: one writes while another
/// reads. SQLite has one write lock, and a connection waiting for it sleeps in SQLite's busy
/// handler in steps of up to 100 ms, so more connections only add waits of that size (the
/// round-trip benchmark: 8 connections, p99 of a code's submit about 110 ms at C=16; 2, 31 ms).
const SQLITE_MAX_CONNS: u32 = 2;

fn sqlite_pool(dsn: &str) -> Result<SqlitePool, ConnectError> {
    let memory = dsn == "memory" || dsn.contains(":memory:") || dsn.contains("mode=memory");
    // Kratos DSNs carry `_fk=true`; foreign keys are always on here, so drop Go-only params.
    let (dsn, max_conns) = take_max_conns_or(dsn, SQLITE_MAX_CONNS)?;
    let cleaned = if dsn == "memory" {
        "sqlite::memory:".to_owned()
    } else {
        strip_go_params(&dsn)
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
        SqlitePoolOptions::new().max_connections(max_conns)
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
        assert_eq!(pool.max_connections(), 5);
    }

    #[tokio::test]
    async fn a_sqlite_file_has_two_connections_unless_max_conns_says_otherwise() {
        let size = |dsn: &str| match Store::connect_lazy(dsn).unwrap() {
            Store::Sqlite(pool) => pool.options().get_max_connections(),
            Store::Postgres(_) => panic!("a sqlite store"),
        };
        assert_eq!(size("sqlite://verity-unused.db?mode=rwc"), SQLITE_MAX_CONNS);
        assert_eq!(size("sqlite://verity-unused.db?_fk=true&max_conns=5"), 5);
        assert_eq!(
            size("memory"),
            1,
            "an in-memory database lives in one connection"
        );
        assert!(Store::connect_lazy("sqlite://verity-unused.db?max_conns=x").is_err());
    }

    #[test]
    fn unknown_scheme_is_refused() {
        let err = Store::connect_lazy("mysql://x").unwrap_err();
        assert!(err.to_string().contains("mysql"));
    }
}
