//! A real headless Chromium for the end-to-end tests: one chromedriver per test on a free
//! port, killed on drop. Without chromium/chromedriver the tests are skipped loudly, and fail
//! under CI. A test that fails leaves a screenshot and the page's HTML behind.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Long enough for a slow CI machine; a wait returns as soon as its condition holds.
const WAIT: Duration = Duration::from_secs(15);

/// A chromedriver process, killed (by its own PID) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed() -> bool {
    let ok = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok() {
        panic!(
            "CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing: the browser tests must run in CI"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is missing, so this browser test did not run \
         (apt-get install chromium chromium-driver) ***\n"
    );
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A port picked free can be taken by a parallel test before chromedriver binds it; then
/// chromedriver exits and another port is tried.
async fn start_driver() -> Driver {
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = http.get(&status).send().await
                && r.status().is_success()
            {
                return driver;
            }
            if matches!(driver.child.try_wait(), Ok(Some(_))) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not come up on {}",
                driver.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("chromedriver exited three times at start (ports taken?)");
}

async fn connect(driver: &Driver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1024,900",
            ],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

/// Where a failed test's screenshot and HTML go.
fn failure_dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-failures")
        .join(test)
}

async fn save_failure(test: &str, client: &Client) {
    let dir = failure_dir(test);
    if std::fs::create_dir_all(&dir).is_err() {
        eprintln!("could not create {}", dir.display());
        return;
    }
    if let Ok(url) = client.current_url().await {
        let _ = std::fs::write(dir.join("url.txt"), url.as_str());
    }
    if let Ok(png) = client.screenshot().await {
        let _ = std::fs::write(dir.join("screenshot.png"), png);
    }
    if let Ok(html) = client.source().await {
        let _ = std::fs::write(dir.join("page.html"), html);
    }
    eprintln!(
        "\n*** browser test {test} failed: screenshot and page HTML in {} ***\n",
        dir.display()
    );
}

/// Runs `body` with a fresh browser (or skips when there is none). A panic in `body` saves
/// the page first, then fails the test.
pub async fn with_browser<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()>,
{
    if !installed() {
        return;
    }
    let driver = start_driver().await;
    let client = connect(&driver).await;
    let browser = Browser {
        client: client.clone(),
    };
    let outcome = AssertUnwindSafe(body(browser)).catch_unwind().await;
    if outcome.is_err() {
        save_failure(test, &client).await;
    }
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The browser as a user drives it: pages, fields, buttons.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// Waits until the page's path is `path` (after the redirects a click started).
    pub async fn wait_for_path(&self, path: &str) -> url::Url {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url.path() == path && self.ready().await {
                return url;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected to reach {path}, still on {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ready(&self) -> bool {
        self.client
            .execute("return document.readyState", vec![])
            .await
            .is_ok_and(|v| v == "complete")
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Types `value` into the input named `name`, replacing what was there.
    pub async fn fill(&self, name: &str, value: &str) {
        let input = self.find(&format!("input[name=\"{name}\"]")).await;
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Clicks the `method` button with this value (the form's submit buttons).
    pub async fn press(&self, method: &str) {
        self.click(&format!("button[name=\"method\"][value=\"{method}\"]"))
            .await;
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// The visible text of the page's main content.
    /// A page that is navigating can drop the element between finding and reading it, so a
    /// stale element is looked up again.
    pub async fn text(&self) -> String {
        let mut last = None;
        for _ in 0..20 {
            match self.find("main").await.text().await {
                Ok(t) => return t,
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("text: {last:?}")
    }

    /// Waits until the main content shows `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {needle:?} on {}: {text}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
