//! The SMTP sink the server's courier delivers to: it accepts every message, notes when it
//! arrived and the code in its body, and hands both to the round trip waiting for that
//! recipient.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A message as the driver sees it: when it arrived and the code it carries.
pub struct Arrival {
    pub at: Instant,
    pub code: String,
}

#[derive(Clone, Default)]
pub struct Sink {
    slots: Arc<Mutex<HashMap<String, oneshot::Sender<Arrival>>>>,
    pub port: u16,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let sink = Sink {
            slots: Arc::default(),
            port: listener.local_addr()?.port(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(session(stream, s.clone()));
            }
        });
        Ok(sink)
    }

    pub fn uri(&self) -> String {
        format!("smtp://127.0.0.1:{}/?disable_starttls=true", self.port)
    }

    /// What will arrive next for `to`.
    pub fn expect(&self, to: &str) -> oneshot::Receiver<Arrival> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(to.to_owned(), tx);
        rx
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Arrival>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a message to the round trip waiting for it; one nobody waits for is dropped.
    fn deliver(&self, to: String, arrival: Arrival) {
        if let Some(tx) = self.lock().remove(&to) {
            let _ = tx.send(arrival);
        }
    }
}

/// The first six-digit word of the body (after the headers).
fn code_in(data: &str) -> Option<String> {
    let body = data.split_once("\n\n").map_or(data, |(_, b)| b);
    body.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

fn address(arg: &str) -> String {
    let a = arg.split_once('<').map_or(arg, |(_, r)| r);
    a.split('>').next().unwrap_or(a).trim().to_ascii_lowercase()
}

async fn session(stream: tokio::net::TcpStream, sink: Sink) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                write
                    .write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?
            }
            "RCPT" => {
                to.push(address(arg));
                write.write_all(b"250 OK\r\n").await?;
            }
            "RSET" => {
                to.clear();
                write.write_all(b"250 OK\r\n").await?;
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                let at = Instant::now();
                let code = code_in(&data).unwrap_or_default();
                for r in to.drain(..) {
                    sink.deliver(
                        r,
                        Arrival {
                            at,
                            code: code.clone(),
                        },
                    );
                }
                write.write_all(b"250 accepted\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
    Ok(())
}
