//! `verity cleanup sql [-e] [DSN] [--keep-last 24h] [-b 100]`, shaped like Kratos's.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::GoDuration;
use crate::persistence::Store;

#[derive(clap::Subcommand, Debug)]
pub enum CleanupCommand {
    /// Remove expired flows, used or expired codes, expired sessions, the texts of sent
    /// messages and old errors, in batches (safe to run on a live database, and from cron).
    Sql {
        /// Read the DSN from $DSN or the config file (the default when no DSN is given).
        #[arg(short = 'e', long = "read-from-env")]
        from_env: bool,
        /// Keep rows until this long after they ended (Go duration: 30m, 24h).
        #[arg(long = "keep-last")]
        keep_last: Option<GoDuration>,
        /// Rows removed per statement.
        #[arg(
            short = 'b',
            long = "database.cleanup.batch_size",
            alias = "batch-size"
        )]
        batch_size: Option<u32>,
        /// Pause between two tables.
        #[arg(long = "database.cleanup.sleep.tables", alias = "sleep-tables")]
        sleep_tables: Option<GoDuration>,
        dsn: Option<String>,
    },
}

pub async fn run(cmd: CleanupCommand, config: Vec<PathBuf>) -> anyhow::Result<()> {
    let CleanupCommand::Sql {
        from_env,
        keep_last,
        batch_size,
        sleep_tables,
        dsn,
    } = cmd;
    // The config file gives the defaults (`database.cleanup`) when there is one.
    let settings = super::serve::config_source(config.clone(), false)
        .ok()
        .and_then(|s| crate::config::load(&s, std::env::vars()).ok());
    let dsn = match dsn {
        Some(d) => d,
        None if from_env || settings.is_some() || std::env::var("DSN").is_ok() => {
            super::serve::dsn_from_env_or_config(config)?
        }
        None => bail!("give the DSN as an argument, or -e to read it from $DSN or the config file"),
    };
    let mut plan = match &settings {
        Some(s) => crate::cleanup::Plan::from_settings(s),
        None => crate::cleanup::Plan::from_config(&Default::default()),
    };
    if let Some(k) = keep_last {
        plan.keep_last = k.chrono();
    }
    if let Some(b) = batch_size {
        if b == 0 {
            bail!("the batch size must be at least 1");
        }
        plan.batch = b;
    }
    if let Some(s) = sleep_tables {
        plan.sleep_tables = s.std();
    }
    let store = Store::connect_lazy(&dsn)?;
    let counts = crate::cleanup::run_once(&store, plan, chrono::Utc::now())
        .await
        .context("the cleanup failed; what was removed before stays removed")?;
    for (target, n) in counts {
        println!("{n:>8}  {}", target.name());
    }
    store.close().await;
    Ok(())
}
