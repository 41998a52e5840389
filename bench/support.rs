//! What the load drivers share: settings for an in-process server on a fresh SQLite file or
//! Postgres schema, its cleanup, and percentiles. Included by each bench with `#[path]`.

use std::time::Duration;

use verity::config::{Sensitive, Settings};

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The settings, plus what to remove afterwards: a temp dir (SQLite) or a schema (Postgres).
pub async fn settings(db: &str) -> anyhow::Result<(Settings, Cleanup)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut s = Settings::from_yaml(&std::fs::read_to_string(format!("{root}/config.yml"))?)?;
    for schema in &mut s.identity.schemas {
        if let Some(rel) = schema.url.strip_prefix("file://") {
            schema.url = format!("file://{root}/{rel}");
        }
    }
    s.serve.public.port = Some(0);
    s.serve.admin.port = Some(0);
    s.serve.public.base_url = None;
    s.serve.admin.base_url = None;
    s.selfservice.rate_limits.enabled = false;
    s.log.level = "warn".into();
    // BENCH_COURIER_OFF=1: no courier in the process, so a run times the flows alone.
    if std::env::var_os("BENCH_COURIER_OFF").is_some() {
        s.courier.worker.enabled = false;
    }
    // BENCH_WAKE_SETTLE=1ms: the courier's `wake_settle`.
    if let Ok(settle) = std::env::var("BENCH_WAKE_SETTLE") {
        s.courier.worker.wake_settle = settle.parse()?;
    }
    let dir = std::env::temp_dir().join(format!("verity-bench-{}", uuid::Uuid::new_v4()));
    if db == "postgres" {
        let url =
            std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL"))?;
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        s.dsn = Sensitive::new(format!("{url}{sep}options=-c%20search_path%3D{schema}"));
        Ok((s, Cleanup::Schema(url, schema)))
    } else {
        std::fs::create_dir_all(&dir)?;
        s.dsn = Sensitive::new(format!("sqlite://{}/bench.sqlite?mode=rwc", dir.display()));
        Ok((s, Cleanup::Dir(dir)))
    }
}

pub enum Cleanup {
    Dir(std::path::PathBuf),
    Schema(String, String),
}

pub async fn cleanup(c: Cleanup) -> anyhow::Result<()> {
    match c {
        Cleanup::Dir(d) => std::fs::remove_dir_all(d)?,
        Cleanup::Schema(url, schema) => {
            let pool = sqlx::PgPool::connect(&url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&pool)
                .await?;
        }
    }
    Ok(())
}
