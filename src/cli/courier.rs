//! `verity courier watch` (the courier alone, for deployments that run `serve` with
//! `courier.worker.enabled: false` and scale senders apart) and `verity courier bench`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::json;

use crate::config::{self, Sensitive, Settings};
use crate::courier::sink::SmtpSink;
use crate::courier::{Channel, Courier, TemplateKind, Worker};
use crate::persistence::{MessageStatus, Store};

#[derive(clap::Subcommand, Debug)]
pub enum CourierCommand {
    /// Send queued messages until interrupted (Kratos's `courier watch`).
    Watch {
        /// Development mode: apply migrations and use the dev inbox when no transport is set.
        #[arg(long)]
        dev: bool,
    },
    /// Measure messages per second from the queue to a local SMTP sink.
    Bench {
        /// Messages per run.
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// Worker concurrencies to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        workers: Vec<usize>,
        /// A Postgres URL to measure on (a scratch schema is made and dropped); default SQLite.
        #[arg(long)]
        postgres: Option<String>,
    },
}

pub async fn run(command: CourierCommand, config: Vec<PathBuf>) -> anyhow::Result<()> {
    match command {
        CourierCommand::Watch { dev } => watch(config, dev).await,
        CourierCommand::Bench {
            messages,
            workers,
            postgres,
        } => bench(messages, &workers, postgres.as_deref()).await,
    }
}

async fn watch(config: Vec<PathBuf>, dev: bool) -> anyhow::Result<()> {
    let source = super::serve::config_source(config, dev)?;
    let settings = config::load(&source, std::env::vars())?;
    crate::telemetry::init(&settings.log);
    let store = Store::connect_lazy(settings.dsn().expose())?;
    if dev {
        store
            .migrate()
            .await
            .context("applying database migrations failed")?;
    }
    let courier = Courier::from_settings_at(&settings, dev, source.base_dir())?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tracing::info!(
        database = store.backend_name(),
        concurrency = settings.courier.worker.concurrency,
        "courier worker started"
    );
    let task = tokio::spawn(Worker::new(courier, store.clone()).run(stopped));
    super::serve::shutdown_signal().await;
    tracing::info!("stopping: finishing the messages in flight");
    let _ = stop.send(true);
    task.await?;
    store.close().await;
    Ok(())
}

fn bench_settings(dsn: &str, sink: &SmtpSink, workers: usize) -> anyhow::Result<Settings> {
    let mut s = Settings::from_yaml(&format!(
        "dsn: {dsn:?}\nidentity:\n  schemas:\n    - id: default\n      url: file://unused.json\n\
         selfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n\
         secrets:\n  default: [\"bench-only-secret-0123456789\"]\n"
    ))?;
    s.courier.smtp.connection_uri = Some(Sensitive::new(sink.uri()));
    s.courier.worker.concurrency = workers;
    s.courier.worker.pull_count = 20;
    s.courier.worker.pull_wait = config::GoDuration::from_millis(50);
    Ok(s)
}

async fn bench(messages: usize, workers: &[usize], postgres: Option<&str>) -> anyhow::Result<()> {
    crate::install_crypto_provider();
    let sink = SmtpSink::start().await?;
    let backend = if postgres.is_some() {
        "postgres"
    } else {
        "sqlite (file, WAL)"
    };
    println!(
        "courier bench: {messages} emails per run, queue -> SMTP sink on 127.0.0.1:{}, {backend}",
        sink.port
    );
    for &w in workers {
        let dir = std::env::temp_dir().join(format!("verity-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let (store, dsn) = match postgres {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                (Store::postgres_with_schema(url, &schema)?, url.to_owned())
            }
            None => {
                let dsn = format!("sqlite://{}/bench.sqlite?mode=rwc", dir.display());
                (Store::connect_lazy(&dsn)?, dsn)
            }
        };
        store.migrate().await?;
        let settings = bench_settings(&dsn, &sink, w)?;
        let courier = Courier::from_settings(&settings, false)?;
        let now = Utc::now();
        let data = json!({"verification_code": "123456", "verification_url": "https://id.example.com/v?code=123456",
                          "identity": {"traits": {}}, "expires_in_minutes": 10});
        let mut batch = Vec::with_capacity(500);
        for i in 0..messages {
            let to = format!("user{i}@example.com");
            batch.push(courier.compose(
                Channel::Email,
                &to,
                TemplateKind::VerificationCodeValid,
                &data,
                None,
                now,
            )?);
            if batch.len() == 500 || i + 1 == messages {
                store.enqueue_messages(&batch).await?;
                batch.clear();
            }
        }
        let before = sink.received();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let task = tokio::spawn(Worker::new(courier, store.clone()).run(stopped));
        while sink.received() - before < messages {
            if started.elapsed() > Duration::from_secs(600) {
                bail!("the bench did not finish within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let elapsed = started.elapsed();
        let _ = stop.send(true);
        task.await?;
        let counts = store.message_status_counts().await?;
        let sent = counts
            .iter()
            .find(|(s, _)| *s == MessageStatus::Sent)
            .map_or(0, |(_, n)| *n);
        store.close().await;
        if let Some(url) = postgres {
            let pool = sqlx::PgPool::connect(url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&pool)
                .await?;
            pool.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
        let secs = elapsed.as_secs_f64();
        println!(
            "  concurrency {w}: {messages} messages in {secs:.2} s = {:.0} messages/s ({sent} marked sent)",
            messages as f64 / secs
        );
    }
    Ok(())
}
