//! A minimal SMTP server that accepts every message and counts it, for `verity courier bench`
//! (plain text, no auth, loopback only). The test suite has its own, with fault injection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<AtomicUsize>,
}

impl SmtpSink {
    /// Binds 127.0.0.1 on a free port and serves until the runtime ends.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = session(stream, counter).await;
                });
            }
        });
        Ok(Self { port, received })
    }

    pub fn received(&self) -> usize {
        self.received.load(Ordering::Relaxed)
    }

    /// A `connection_uri` for this sink.
    pub fn uri(&self) -> String {
        format!("smtp://127.0.0.1:{}/?disable_starttls=true", self.port)
    }
}

async fn session(stream: tokio::net::TcpStream, counter: Arc<AtomicUsize>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write.write_all(b"354 end with .\r\n").await?;
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                }
                counter.fetch_add(1, Ordering::Relaxed);
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
