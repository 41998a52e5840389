//! A small pool of lettre SMTP connections over sockets with `TCP_NODELAY`.
//!
//! lettre's own pooled transport writes the message and the terminating `.` in two writes on
//! a socket without `TCP_NODELAY`, so Nagle's algorithm holds the `.` until the server's
//! delayed ACK (40 ms on Linux): about 22 messages per second per connection, whatever the
//! server. Opening the socket here and handing it to lettre (`connect_with_transport`) keeps
//! lettre's SMTP protocol, STARTTLS and AUTH code and removes the stall. Implicit TLS
//! (`smtps://`) uses lettre's own connector, which cannot take a socket.

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

/// Idle connections older than this are checked with NOOP before reuse.
const CHECK_AFTER: Duration = Duration::from_secs(30);

pub struct SmtpPool {
    connector: Connector,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
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

    fn take_idle(&self) -> Option<(AsyncSmtpConnection, Instant)> {
        self.idle.lock().ok()?.pop()
    }

    async fn get(&self) -> Result<AsyncSmtpConnection, SendError> {
        while let Some((mut conn, since)) = self.take_idle() {
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    fn put(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let c = &self.connector;
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
        Ok(conn)
    }

    /// Sends one message on a pooled connection; a connection that failed is dropped.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let attempt = async {
            let mut conn = self.get().await?;
            match conn.send(envelope, bytes).await {
                Ok(_) => {
                    self.put(conn);
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
