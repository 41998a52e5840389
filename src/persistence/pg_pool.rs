//! The Postgres connection pool: sqlx's connections, kept without sqlx's ping on release.
//!
//! sqlx's own pool sends a Sync and waits for the server's answer every time a connection
//! goes back to it, one extra network round trip per store call (8 of the 19 round trips
//! of a verification round trip). Here a connection goes back to the idle list at once when
//! the pool saw its work end: a statement run on the pool itself that answered (rows or a
//! database error), or a [`PgTx`] committed or rolled back. A statement that failed
//! otherwise (the connection broke) closes it, and so does a [`PgTx`] dropped without commit
//! or rollback (the server rolls it back). A connection the pool did not see settle (a
//! statement whose future was dropped half-way, one taken with [`PgPool::acquire`]) is
//! pinged before it goes back, as sqlx does: that reads and drops unread answers, sends a
//! queued ROLLBACK and finds a broken one. A connection idle for a second or more is pinged
//! before use.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgQueryResult, PgRow};
use sqlx::{ConnectOptions, Connection, Database, Either, Execute, Executor, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pooled connection idle for longer than this is pinged before use (the server or a
/// proxy may have closed it meanwhile). One that broke anyway fails its statement, is
/// dropped, and the next acquire opens a fresh one.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);
/// Idle connections older than this are closed instead of reused (sqlx's defaults).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A pool of Postgres connections, opened lazily, at most `max` at a time.
#[derive(Clone)]
pub struct PgPool(Arc<Inner>);

struct Inner {
    options: PgConnectOptions,
    max: u32,
    acquire_timeout: Duration,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    open: AtomicU32,
    closed: AtomicBool,
}

struct Idle {
    conn: PgConnection,
    created: Instant,
    since: Instant,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("max", &self.0.max)
            .field("open", &self.size())
            .finish_non_exhaustive()
    }
}

impl PgPool {
    pub fn new(options: PgConnectOptions, max: u32, acquire_timeout: Duration) -> Self {
        Self(Arc::new(Inner {
            options,
            max,
            acquire_timeout,
            permits: Arc::new(Semaphore::new(max as usize)),
            idle: Mutex::new(Vec::new()),
            open: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        }))
    }

    pub fn connect_options(&self) -> &PgConnectOptions {
        &self.0.options
    }

    /// Stable while the pool lives: tells pools apart.
    pub fn key(&self) -> usize {
        Arc::as_ptr(&self.0).addr()
    }

    pub fn max_connections(&self) -> u32 {
        self.0.max
    }

    /// Connections open now, in use or idle.
    pub fn size(&self) -> u32 {
        self.0.open.load(Ordering::Relaxed)
    }

    pub fn num_idle(&self) -> usize {
        self.0.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// A connection: an idle one (pinged if it sat idle a while) or a new one. Waits for a
    /// free one at most the pool's acquire timeout.
    pub async fn acquire(&self) -> Result<PgConn, sqlx::Error> {
        match tokio::time::timeout(self.0.acquire_timeout, self.acquire_inner()).await {
            Ok(conn) => conn,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    async fn acquire_inner(&self) -> Result<PgConn, sqlx::Error> {
        let permit = self
            .0
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        if self.0.closed.load(Ordering::SeqCst) {
            return Err(sqlx::Error::PoolClosed);
        }
        while let Some(idle) = self.pop_idle() {
            let now = Instant::now();
            if now - idle.since >= IDLE_TIMEOUT || now - idle.created >= MAX_LIFETIME {
                self.0.forget();
                let _ = idle.conn.close().await;
                continue;
            }
            let mut conn = idle.conn;
            if now - idle.since >= PING_IDLE_AFTER && conn.ping().await.is_err() {
                self.0.forget();
                continue;
            }
            return Ok(self.wrap(conn, idle.created, permit));
        }
        let conn = self.0.options.connect().await?;
        self.0.open.fetch_add(1, Ordering::Relaxed);
        Ok(self.wrap(conn, Instant::now(), permit))
    }

    fn pop_idle(&self) -> Option<Idle> {
        self.0.idle.lock().ok()?.pop()
    }

    fn wrap(&self, conn: PgConnection, created: Instant, permit: OwnedSemaphorePermit) -> PgConn {
        PgConn {
            conn: Some(conn),
            created,
            settled: false,
            discard: false,
            pool: self.0.clone(),
            permit: Some(permit),
        }
    }

    /// Opens a transaction with `begin` (`BEGIN`, or a variant).
    pub async fn begin_with(&self, begin: &'static str) -> Result<PgTx, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let begun = (&mut *conn).execute(begin).await.map(|_| ());
        conn.settle(&begun);
        begun?;
        // Settled again only when the transaction ends.
        conn.settled = false;
        Ok(PgTx { conn })
    }

    /// Refuses new acquires and closes the idle connections; those in use close when
    /// they come back.
    pub async fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.permits.close();
        let idle = std::mem::take(&mut *self.0.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for i in idle {
            self.0.forget();
            let _ = i.conn.close().await;
        }
    }
}

impl Inner {
    /// Counts a connection closed or dropped.
    fn forget(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    fn put_back(&self, conn: PgConnection, created: Instant) {
        let mut idle = match self.idle.lock() {
            Ok(i) if !self.closed.load(Ordering::SeqCst) => i,
            _ => {
                self.forget();
                return;
            }
        };
        idle.push(Idle {
            conn,
            created,
            since: Instant::now(),
        });
    }
}

/// A connection taken from the pool; it goes back when dropped.
pub struct PgConn {
    conn: Option<PgConnection>,
    created: Instant,
    /// Its last work ended and answered: it goes back without a ping.
    settled: bool,
    /// Broken, or left inside a transaction: closed instead of going back.
    discard: bool,
    pool: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
}

impl PgConn {
    /// Notes how its last statement ended: answered (rows, or the database's refusal), or
    /// failed in a way that leaves the connection unusable.
    fn settle<T>(&mut self, outcome: &Result<T, sqlx::Error>) {
        match outcome {
            Ok(_) | Err(sqlx::Error::Database(_)) => self.settled = true,
            Err(_) => self.discard = true,
        }
    }

    /// Gives the connection back without a ping: the caller awaited every statement it ran
    /// on it to its answer (a hand-taken connection is otherwise pinged on release, since
    /// the pool cannot know that).
    pub fn release_answered(mut self) {
        self.settled = true;
    }
}

impl Deref for PgConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let pool = self.pool.clone();
        if self.discard {
            pool.forget();
            return;
        }
        if self.settled && !conn.should_flush() && !conn.is_in_transaction() {
            pool.put_back(conn, self.created);
            return;
        }
        // Work the pool did not see end (buffered writes, a queued ROLLBACK of a dropped
        // sqlx transaction, a broken socket): sent and answered before anyone else uses it,
        // holding its permit; closed if that fails.
        let (created, permit) = (self.created, self.permit.take());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            pool.forget();
            return;
        };
        runtime.spawn(async move {
            let mut conn = conn;
            match conn.ping().await {
                Ok(()) if !conn.is_in_transaction() => pool.put_back(conn, created),
                _ => pool.forget(),
            }
            drop(permit);
        });
    }
}

/// A transaction on a pooled connection: committed or rolled back explicitly; dropped
/// without either, its connection is closed and the server rolls it back. (A COMMIT the
/// database refuses ends the transaction too: Postgres rolls it back.)
pub struct PgTx {
    conn: PgConn,
}

impl PgTx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        let ended = (&mut *self.conn).execute(sql).await.map(|_| ());
        self.conn.settle(&ended);
        ended
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.conn.settled {
            self.conn.discard = true;
        }
    }
}

impl Deref for PgTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

type Answer = Either<PgQueryResult, PgRow>;

impl<'p> Executor<'p> for &'_ PgPool {
    type Database = Postgres;

    /// Runs the query on a connection of its own and hands out its answers once it ended
    /// (the store reads whole answers anyway).
    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Result<Answer, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        let answers = async move {
            let mut conn = match pool.acquire().await {
                Ok(c) => c,
                Err(e) => return vec![Err(e)],
            };
            let mut out = Vec::new();
            let mut ended = Ok(());
            let mut s = (&mut *conn).fetch_many(query);
            while let Some(a) = s.next().await {
                match a {
                    Ok(a) => out.push(Ok(a)),
                    Err(e) => {
                        ended = Err(e);
                        break;
                    }
                }
            }
            drop(s);
            conn.settle(&ended);
            if let Err(e) = ended {
                out.push(Err(e));
            }
            out
        };
        stream::once(answers).flat_map(stream::iter).boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let row = (&mut *conn).fetch_optional(query).await;
            conn.settle(&row);
            row
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [<Postgres as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Postgres as Database>::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            (&mut *pool.acquire().await?)
                .prepare_with(sql, parameters)
                .await
        })
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>> {
        let pool = self.clone();
        Box::pin(async move { (&mut *pool.acquire().await?).describe(sql).await })
    }
}
