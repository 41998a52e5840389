//! The system under test: a fresh database (a Postgres database of its own, or a SQLite file)
//! and `verity serve`, the release binary cargo built, as a child process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh database and how to remove it.
pub enum Db {
    Sqlite { dir: PathBuf },
    Postgres { admin: String, name: String },
}

impl Db {
    pub async fn create(kind: &str) -> anyhow::Result<Db> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        if kind == "sqlite" {
            let dir = std::env::temp_dir().join(format!("verity-roundtrip-{tag}"));
            std::fs::create_dir_all(&dir)?;
            return Ok(Db::Sqlite { dir });
        }
        let admin = std::env::var("BENCH_DATABASE_URL")
            .or_else(|_| std::env::var("TEST_DATABASE_URL"))
            .map_err(|_| {
                anyhow::anyhow!("--db postgres needs BENCH_DATABASE_URL or TEST_DATABASE_URL")
            })?;
        let name = format!("verity_bench_{}", &tag[..12]);
        let pool = sqlx::PgPool::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await?;
        pool.close().await;
        Ok(Db::Postgres { admin, name })
    }

    /// The DSN the server is given.
    pub fn dsn(&self) -> String {
        match self {
            Db::Sqlite { dir } => format!(
                "sqlite://{}/verity.sqlite?mode=rwc{}",
                dir.display(),
                std::env::var("BENCH_SQLITE_DSN_PARAMS").unwrap_or_default()
            ),
            Db::Postgres { admin, name } => {
                let mut u = url::Url::parse(admin).expect("a Postgres URL");
                u.set_path(name);
                u.to_string()
            }
        }
    }

    /// The Postgres database's name (`None` on SQLite).
    pub fn postgres_name(&self) -> Option<String> {
        match self {
            Db::Postgres { name, .. } => Some(name.clone()),
            Db::Sqlite { .. } => None,
        }
    }

    /// Has Postgres log every statement of this database (for `--statements`).
    pub async fn log_statements(&self) -> anyhow::Result<()> {
        if let Db::Postgres { admin, name } = self {
            let pool = sqlx::PgPool::connect(admin).await?;
            let sql = format!("ALTER DATABASE {name} SET log_statement = 'all'");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
            pool.close().await;
        }
        Ok(())
    }

    /// The server processes of this database on the Postgres side (its backends).
    pub async fn backends(&self) -> Vec<u32> {
        let Db::Postgres { admin, name } = self else {
            return Vec::new();
        };
        let Ok(pool) = sqlx::PgPool::connect(admin).await else {
            return Vec::new();
        };
        let pids: Vec<i32> =
            sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
                .bind(name)
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        pool.close().await;
        pids.into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .collect()
    }

    pub async fn drop(self) {
        match self {
            Db::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Db::Postgres { admin, name } => {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
            }
        }
    }
}

pub struct Server {
    child: Child,
    pub public: String,
    pub admin: String,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts `verity serve --dev` (migrations applied at start) on free ports, rate limits
    /// off, the courier delivering to `smtp_uri`. `extra` adds environment variables.
    /// `BENCH_VERITY_BIN` names another binary to start instead of this build's.
    pub async fn start(
        dsn: &str,
        smtp_uri: &str,
        extra: &[(String, String)],
    ) -> anyhow::Result<Server> {
        let (public_port, admin_port) = (free_port(), free_port());
        let root = env!("CARGO_MANIFEST_DIR");
        let log = std::env::temp_dir().join(format!("verity-roundtrip-{public_port}.log"));
        // BENCH_VERITY_BIN runs another build (say, the previous commit's) against the same
        // driver, for a before/after in one session.
        let bin = std::env::var("BENCH_VERITY_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_verity").to_owned());
        let child = Command::new(bin)
            .args(["serve", "--dev", "--config", &format!("{root}/config.yml")])
            .current_dir(root)
            .env("DSN", dsn)
            .env("SERVE_PUBLIC_PORT", public_port.to_string())
            .env("SERVE_ADMIN_PORT", admin_port.to_string())
            .env(
                "SERVE_PUBLIC_BASE_URL",
                format!("http://127.0.0.1:{public_port}/"),
            )
            .env(
                "SERVE_ADMIN_BASE_URL",
                format!("http://127.0.0.1:{admin_port}/"),
            )
            .env("SELFSERVICE_RATE_LIMITS_ENABLED", "false")
            .env("COURIER_SMTP_CONNECTION_URI", smtp_uri)
            .env("VERITY_LOG", "warn")
            .envs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let server = Server {
            child,
            public: format!("http://127.0.0.1:{public_port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            let ready = http
                .get(format!("{}/health/ready", self.admin))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "verity serve was not ready within 120 s; its log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
