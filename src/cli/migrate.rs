//! `verity migrate sql [-e] [--yes] [DSN]`, shaped like Kratos's.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::persistence::Store;

#[derive(clap::Subcommand, Debug)]
pub enum MigrateCommand {
    /// Apply the embedded SQL migrations.
    Sql {
        /// Read the DSN from $DSN or the config file instead of the argument.
        #[arg(short = 'e', long = "read-from-env")]
        from_env: bool,
        /// Apply without asking.
        #[arg(short, long)]
        yes: bool,
        dsn: Option<String>,
    },
}

pub async fn run(cmd: MigrateCommand, config: Option<PathBuf>) -> anyhow::Result<()> {
    let MigrateCommand::Sql { from_env, yes, dsn } = cmd;
    let dsn = match (dsn, from_env) {
        (Some(d), _) => d,
        (None, true) => super::serve::dsn_from_env_or_config(config)?,
        (None, false) => {
            bail!("give the DSN as an argument, or -e to read it from $DSN or the config file")
        }
    };
    let store = Store::connect_lazy(&dsn)?;
    let status = store
        .migration_status()
        .await
        .context("cannot read the migration status")?;
    let pending: Vec<_> = status.iter().filter(|m| !m.applied).collect();
    for m in &status {
        println!(
            "{:>6}  {:<8}  {}",
            m.version,
            if m.applied { "applied" } else { "pending" },
            m.description
        );
    }
    if pending.is_empty() {
        println!("The database schema is up to date.");
        return Ok(());
    }
    if !yes && !confirm(pending.len())? {
        println!("Nothing was applied.");
        return Ok(());
    }
    store
        .migrate()
        .await
        .context("applying migrations failed")?;
    println!("Applied {} migration(s).", pending.len());
    store.close().await;
    Ok(())
}

fn confirm(count: usize) -> anyhow::Result<bool> {
    print!("Apply {count} pending migration(s)? [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
