//! Test harness: `spawn_app()` starts Verity on port 0 with a fresh SQLite file (or, with
//! `TestApp::spawn_postgres`, a fresh schema in `TEST_DATABASE_URL`).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use verity::config::Settings;
use verity::persistence::Store;
use verity::startup::{Application, Registry};

#[path = "../common/pg_schema.rs"]
pub mod pg_schema;

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub registry: Arc<Registry>,
    store: Store,
    _dir: Option<TempDir>,
    pg_schema: Option<(String, String)>,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("verity-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

/// The repository's config.yml with test overrides applied on top (YAML text appended as
/// replacements of whole top-level keys is awkward, so tests patch the parsed settings).
pub fn base_settings(dsn: &str) -> Settings {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.yml"))
        .expect("config.yml");
    let mut s = Settings::from_yaml(&text).expect("bundled config.yml is valid");
    s.dsn = verity::config::Sensitive::new(dsn);
    s.serve.public.port = Some(0);
    s.serve.admin.port = Some(0);
    s.serve.public.base_url = None;
    s.serve.admin.base_url = None;
    // Fast hashing: the tests check behaviour, not argon2's cost.
    s.hashers.argon2.memory = verity::config::ByteSize::kib(64);
    s.hashers.argon2.iterations = 1;
    for schema in &mut s.identity.schemas {
        if let Some(rel) = schema.url.strip_prefix("file://") {
            schema.url = format!("file://{}/{rel}", env!("CARGO_MANIFEST_DIR"));
        }
    }
    s
}

/// Secrets a server outside `--dev` accepts (the bundled ones are refused there).
pub fn production_secrets(s: &mut Settings) {
    let secret = |c: char| verity::config::Sensitive::new(c.to_string().repeat(64));
    s.secrets.default = vec![secret('a')];
    s.secrets.cookie = vec![secret('b')];
}

/// Postgres for tests: `TEST_DATABASE_URL`, or a loud skip (a failure under CI).
pub fn postgres_url() -> Option<String> {
    pg_schema::test_database_url()
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts the app on a fresh SQLite file after `tweak` adjusts the settings.
pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    verity::install_crypto_provider();
    let dir = TempDir::new();
    let dsn = format!("sqlite://{}/verity.sqlite?mode=rwc", dir.0.display());
    let mut settings = base_settings(&dsn);
    tweak(&mut settings);
    start(settings, Some(dir), None).await
}

/// Starts the app on a fresh schema of the test Postgres; `None` when there is none.
pub async fn spawn_postgres_with(tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    verity::install_crypto_provider();
    let url = postgres_url()?;
    let schema = pg_schema::create(&url, "t").await;
    let mut settings = base_settings(&url);
    tweak(&mut settings);
    let sep = if url.contains('?') { '&' } else { '?' };
    settings.dsn =
        verity::config::Sensitive::new(format!("{url}{sep}options=-c%20search_path%3D{schema}"));
    Some(start(settings, None, Some((url, schema))).await)
}

async fn start(
    settings: Settings,
    dir: Option<TempDir>,
    pg_schema: Option<(String, String)>,
) -> TestApp {
    let source = verity::config::ConfigSource::File(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.yml"
    )));
    start_from(settings, &source, dir, pg_schema).await
}

/// Starts settings loaded from `source` (its directory resolves relative `file://` paths) in
/// development mode; `dir` is removed when the app is dropped.
pub async fn spawn_loaded(
    settings: Settings,
    source: &verity::config::ConfigSource,
    dir: TempDir,
) -> TestApp {
    verity::install_crypto_provider();
    start_from(settings, source, Some(dir), None).await
}

async fn start_from(
    settings: Settings,
    source: &verity::config::ConfigSource,
    dir: Option<TempDir>,
    pg_schema: Option<(String, String)>,
) -> TestApp {
    let app = Application::build(settings, source, true, true)
        .await
        .expect("build app");
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    let registry = app.registry();
    let store = app.store().clone();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    TestApp {
        public,
        admin,
        http,
        registry,
        store,
        _dir: dir,
        pg_schema,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.pg_schema.take() {
            pg_schema::drop_blocking(url, schema);
        }
    }
}

impl TestApp {
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn post_admin(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.admin))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .expect("request")
    }

    pub async fn create_identity(&self, body: &Value) -> Value {
        let resp = self.post_admin("/admin/identities", body).await;
        assert_eq!(resp.status(), 201, "create identity");
        resp.json().await.expect("json")
    }
}

/// Reads a JSON body and asserts the status, printing the body on mismatch.
pub async fn json_with_status(resp: reqwest::Response, status: u16) -> Value {
    let actual = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
