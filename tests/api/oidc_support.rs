//! A real OpenID provider for tests: `tests/oidc/provider.mjs` (the certified `oidc-provider`
//! package) run with node, plus a scripted browser that signs in at it.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// How long a starting provider may take to print its first line.
const PROVIDER_START: std::time::Duration = std::time::Duration::from_secs(20);

fn provider_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Whether node and `npm ci` in tests/oidc are there. Without them the caller skips loudly
/// on a developer's machine; under CI that is a failure.
pub fn provider_available() -> bool {
    let ready = provider_dir().join("node_modules/oidc-provider").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the OIDC tests: install node and run `npm ci` in tests/oidc"
        );
        eprintln!("\n*** SKIPPED: the OIDC tests need node and `npm ci` in tests/oidc ***\n");
    }
    ready
}

/// A running provider; the node process is killed on drop.
pub struct OidcProvider {
    pub issuer: String,
    pub port: u16,
    child: Child,
}

impl OidcProvider {
    /// Starts a provider on a free port with `accounts` (`{"<id>": {"email": ..,
    /// "email_verified": .., "name": ..}}`) and one confidential `client`
    /// (`{"client_id", "client_secret", "redirect_uris": [..]}`). `None` when node or the
    /// package is missing (see `provider_available`).
    pub async fn start(accounts: Value, client: Value) -> Option<Self> {
        Self::start_on(0, accounts, client).await
    }

    pub async fn start_on(port: u16, accounts: Value, client: Value) -> Option<Self> {
        if !provider_available() {
            return None;
        }
        // A provider that printed nothing in time (killed by `try_start_on`, which frees its
        // port) is started again: seen once under the whole suite's load.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start_on(port, accounts.clone(), client.clone()).await {
                Ok(op) => return Some(op),
                Err(e) => last_error = e,
            }
        }
        panic!("{last_error}");
    }

    /// Like `start_on`, but a provider that cannot start (its port was taken meanwhile) is an
    /// `Err` the caller may retry with another port.
    pub async fn try_start_on(port: u16, accounts: Value, client: Value) -> Result<Self, String> {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg("--port")
            .arg(port.to_string())
            .arg("--client")
            .arg(client.to_string())
            .arg("--accounts")
            .arg(accounts.to_string())
            .arg("--exit-on-stdin-close")
            .current_dir(provider_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let reading = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            // Keep draining so the provider never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            line
        });
        // A provider that wedges before its first line (node once hung so at start) must not
        // hang the suite: it is killed, and the caller tries another.
        let first = match tokio::time::timeout(PROVIDER_START, reading).await {
            Ok(line) => line.unwrap(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the OIDC provider printed nothing within {PROVIDER_START:?}\n{}",
                    stderr.lock().unwrap()
                ));
            }
        };
        let info: Value = match serde_json::from_str(first.trim()) {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the OIDC provider did not start: {first:?}\n{}",
                    stderr.lock().unwrap()
                ));
            }
        };
        Ok(Self {
            issuer: info["issuer"].as_str().expect("issuer").to_owned(),
            port: info["port"].as_u64().expect("port") as u16,
            child,
        })
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser for `login_via_provider`: keeps cookies, follows no redirects by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Follows the provider's redirects and signs in as `account` on its login form, until the
/// provider redirects away from itself (to the client's redirect_uri). Returns that URL, with
/// `code` and `state`. `http` must keep cookies and not follow redirects (see `browser`).
pub async fn login_via_provider(
    http: &reqwest::Client,
    authorize_url: &str,
    account: &str,
) -> String {
    let start = url::Url::parse(authorize_url).expect("authorize URL");
    let mut next = (reqwest::Method::GET, start.clone(), None::<String>);
    for _ in 0..20 {
        let (method, url, form) = next.clone();
        let mut req = http.request(method, url.clone());
        if let Some(form) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        let res = req.send().await.expect("request to the provider");
        let status = res.status();
        if status.is_redirection() {
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            let target = url.join(&location).expect("redirect location");
            if target.origin() != start.origin() {
                return target.to_string();
            }
            next = (reqwest::Method::GET, target, None);
            continue;
        }
        let body = res.text().await.unwrap();
        assert!(
            status.is_success() && body.contains("name=\"login\""),
            "the provider answered {status} without a login form at {url}:\n{body}"
        );
        let action = form_action(&body).expect("login form action");
        let form = format!(
            "login={}",
            url::form_urlencoded::byte_serialize(account.as_bytes()).collect::<String>()
        );
        next = (
            reqwest::Method::POST,
            url.join(&action).unwrap(),
            Some(form),
        );
    }
    panic!("the provider never redirected back to the client");
}

fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("<form")?..];
    let rest = &form[form.find("action=\"")? + 8..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}
