//! An in-test SMTP server: speaks EHLO/MAIL/RCPT/DATA/RSET/NOOP/QUIT on 127.0.0.1, keeps every
//! message it accepts, and can be told to answer a command with an error (4xx or 5xx), to take
//! its time before accepting a message, or to drop connections left idle (as real servers do).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }
}

/// Answer `verb` (when its argument contains `matching`) with `reply`, `times` times (or always).
#[derive(Debug, Clone)]
pub struct Fault {
    pub verb: &'static str,
    pub matching: Option<String>,
    pub reply: &'static str,
    pub times: Option<usize>,
}

#[derive(Default)]
struct State {
    mails: Vec<Mail>,
    /// When each mail was accepted, in the order of `mails`.
    accepted_at: Vec<Instant>,
    faults: Vec<Fault>,
    commands: usize,
    connections: usize,
    /// How long the answer to a message's final `.` takes.
    data_delay: Duration,
    /// Connections with no command for this long get `421` and are closed.
    idle_drop: Option<Duration>,
    /// Set by `stop`: open sessions answer `421` to their next command and close.
    stopped: bool,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    accept: tokio::task::AbortHandle,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts on a given port (to bring a "down" server up where the courier expects it).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind sink");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, shared).await;
                });
            }
        })
        .abort_handle();
        Self {
            port,
            state,
            accept,
        }
    }

    /// Goes away: the port refuses connections and open sessions end with `421`. A new
    /// sink on the same port (`start_on`) brings the server back.
    pub fn stop(&self) {
        self.state.lock().unwrap().stopped = true;
        self.accept.abort();
    }

    /// A port nothing listens on (bound, then released).
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub fn uri_for(port: u16) -> String {
        format!("smtp://127.0.0.1:{port}/?disable_starttls=true")
    }

    pub fn uri(&self) -> String {
        Self::uri_for(self.port)
    }

    pub fn fail(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap().mails.clone()
    }

    pub fn commands(&self) -> usize {
        self.state.lock().unwrap().commands
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Each message is accepted only `delay` after its data ended (a slow provider).
    pub fn set_data_delay(&self, delay: Duration) {
        self.state.lock().unwrap().data_delay = delay;
    }

    /// Drops connections idle for `after` with `421`, as servers with an idle timeout do.
    pub fn drop_idle_after(&self, after: Duration) {
        self.state.lock().unwrap().idle_drop = Some(after);
    }

    /// When each mail was accepted, in arrival order.
    pub fn accepted_at(&self) -> Vec<Instant> {
        self.state.lock().unwrap().accepted_at.clone()
    }

    /// Waits until `n` mails are in, or `within` has passed; answers how many there are.
    pub async fn wait_for(&self, n: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let have = self.state.lock().unwrap().mails.len();
            if have >= n || Instant::now() >= deadline {
                return have;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn fault_reply(state: &Mutex<State>, verb: &str, arg: &str) -> Option<&'static str> {
    let mut s = state.lock().unwrap();
    s.commands += 1;
    let i = s.faults.iter().position(|f| {
        f.verb == verb
            && f.matching.as_deref().is_none_or(|m| arg.contains(m))
            && f.times != Some(0)
    })?;
    let f = &mut s.faults[i];
    if let Some(t) = f.times.as_mut() {
        *t -= 1;
    }
    Some(f.reply)
}

async fn session(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    state.lock().unwrap().connections += 1;
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let idle_drop = state.lock().unwrap().idle_drop;
        let next = match idle_drop {
            Some(after) => match tokio::time::timeout(after, lines.next_line()).await {
                Ok(line) => line?,
                Err(_) => {
                    write.write_all(b"421 sink.test idle timeout\r\n").await?;
                    return Ok(());
                }
            },
            None => lines.next_line().await?,
        };
        let Some(line) = next else { break };
        if state.lock().unwrap().stopped {
            write.write_all(b"421 sink.test going away\r\n").await?;
            return Ok(());
        }
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let verb = verb.to_ascii_uppercase();
        if let Some(reply) = fault_reply(&state, &verb, arg) {
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
            continue;
        }
        match verb.as_str() {
            "EHLO" => {
                write
                    .write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?
            }
            "HELO" | "NOOP" => write.write_all(b"250 OK\r\n").await?,
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                write.write_all(b"250 OK\r\n").await?;
            }
            "MAIL" => {
                from = arg.to_owned();
                write.write_all(b"250 OK\r\n").await?;
            }
            "RCPT" => {
                to.push(arg.to_owned());
                write.write_all(b"250 OK\r\n").await?;
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    // A client gone before the final "." sent no mail (a real server drops
                    // the partial message too).
                    let Some(l) = lines.next_line().await? else {
                        return Ok(());
                    };
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                let mail = Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                };
                let delay = state.lock().unwrap().data_delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                {
                    let mut s = state.lock().unwrap();
                    s.mails.push(mail);
                    s.accepted_at.push(Instant::now());
                }
                write.write_all(b"250 accepted\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"502 not implemented\r\n").await?,
        }
    }
    Ok(())
}
