//! A small pool of lettre SMTP connections over sockets with `TCP_NODELAY`.
//!
//! lettre's own pooled transport writes the message and the terminating `.` in two writes on
//! a socket without `TCP_NODELAY`, so Nagle's algorithm holds the `.` until the server's
//! delayed ACK (40 ms on Linux): about 22 messages per second per connection, whatever the
//! server. Opening the socket here and handing it to lettre (`connect_with_transport`) keeps
//! lettre's SMTP protocol, STARTTLS and AUTH code and removes the stall. Implicit TLS
//! (`smtps://`) uses lettre's own connector, which cannot take a socket.
//!
//! Every pooled connection is checked before it is reused, so one the server dropped while
//! idle costs no failed attempt and no retry delay: a duplicate of the socket is peeked without
//! blocking (end of stream, or an unsolicited line such as `421 idle timeout`, means closed),
//! and a connection idle for long (or one without a socket of ours: `smtps://`) gets a NOOP.

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::backoff::SendError;
use super::smtp::classify;

/// How a connection is opened.
pub struct Connector {
    pub host: String,
    pub port: u16,
    pub hello: ClientId,
    /// `Some` with `implicit == false`: STARTTLS is required.
    pub tls: Option<TlsParameters>,
    pub implicit: bool,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

/// Idle connections older than this are checked with NOOP before reuse (a peer that vanished
/// without closing leaves nothing to peek at).
const NOOP_AFTER: Duration = Duration::from_secs(30);
/// The same for connections that cannot be peeked (`smtps://`).
const NOOP_AFTER_UNPROBED: Duration = Duration::from_secs(2);

/// A connection and a duplicate of its socket to look at while lettre owns the stream.
struct Pooled {
    conn: AsyncSmtpConnection,
    probe: Option<std::net::TcpStream>,
}

impl Pooled {
    /// Whether the server closed the connection (or sent something unasked) while it was idle.
    /// The socket is non-blocking, so a live idle connection answers `WouldBlock` at once.
    fn closed_by_server(&self) -> bool {
        let Some(probe) = &self.probe else {
            return false;
        };
        // Data (an unasked `421`), end of stream or an error all mean: do not reuse.
        !matches!(probe.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock)
    }
}

pub struct SmtpPool {
    connector: Connector,
    idle: Mutex<Vec<(Pooled, Instant)>>,
    max_idle: usize,
}

impl SmtpPool {
    pub fn new(connector: Connector, max_idle: usize) -> Self {
        Self {
            connector,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    fn take_idle(&self) -> Option<(Pooled, Instant)> {
        self.idle.lock().ok()?.pop()
    }

    async fn get(&self) -> Result<Pooled, SendError> {
        while let Some((mut p, since)) = self.take_idle() {
            if p.conn.has_broken() || p.closed_by_server() {
                continue;
            }
            let noop_after = if p.probe.is_some() {
                NOOP_AFTER
            } else {
                NOOP_AFTER_UNPROBED
            };
            if since.elapsed() < noop_after || p.conn.test_connected().await {
                return Ok(p);
            }
        }
        self.connect().await
    }

    fn put(&self, p: Pooled) {
        if p.conn.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push((p, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<Pooled, SendError> {
        let c = &self.connector;
        let mut probe = None;
        let mut conn = if c.implicit {
            AsyncSmtpConnection::connect_tokio1(
                (c.host.as_str(), c.port),
                Some(c.timeout),
                &c.hello,
                c.tls.clone(),
                None,
            )
            .await
            .map_err(|e| classify(&e))?
        } else {
            let io = |e: std::io::Error| {
                SendError::transient(format!("cannot connect to the SMTP server: {e}"))
            };
            let stream = tokio::net::TcpStream::connect((c.host.as_str(), c.port))
                .await
                .map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            probe = stream
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(std::net::TcpStream::from);
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &c.hello)
                .await
                .map_err(|e| classify(&e))?;
            if let Some(tls) = &c.tls {
                conn.starttls(tls.clone(), &c.hello)
                    .await
                    .map_err(|e| classify(&e))?;
            }
            conn
        };
        if let Some(creds) = &c.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], creds)
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(Pooled { conn, probe })
    }

    /// Sends one message on a pooled connection; a connection that failed is dropped.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let attempt = async {
            let mut p = self.get().await?;
            match p.conn.send(envelope, bytes).await {
                Ok(_) => {
                    self.put(p);
                    Ok(())
                }
                Err(e) => Err(classify(&e)),
            }
        };
        match tokio::time::timeout(self.connector.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(SendError::transient(format!(
                "the SMTP server did not answer within {} s",
                self.connector.timeout.as_secs()
            ))),
        }
    }
}
