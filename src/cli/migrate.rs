//! `verity migrate sql [up|status|down] [-e] [--yes] [DSN]`, shaped like Kratos's.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::persistence::Store;

#[derive(clap::Subcommand, Debug)]
pub enum MigrateCommand {
    /// Apply the embedded SQL migrations.
    Sql {
        #[command(subcommand)]
        action: Option<SqlAction>,
        /// Read the DSN from $DSN or the config file instead of the argument.
        #[arg(short = 'e', long = "read-from-env", global = true)]
        from_env: bool,
        /// Apply without asking.
        #[arg(short, long, global = true)]
        yes: bool,
        dsn: Option<String>,
    },
}

/// Kratos's `migrate sql` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SqlAction {
    /// Apply the pending migrations (the same as no subcommand).
    Up { dsn: Option<String> },
    /// List the migrations and whether each is applied; changes nothing.
    Status { dsn: Option<String> },
    /// Kratos rolls migrations back; Verity's migrations go forward only.
    Down {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

pub async fn run(cmd: MigrateCommand, config: Vec<PathBuf>) -> anyhow::Result<()> {
    let MigrateCommand::Sql {
        action,
        from_env,
        yes,
        dsn,
    } = cmd;
    let (dsn, only_status) = match action {
        None => (dsn, false),
        Some(SqlAction::Up { dsn: d }) => (d.or(dsn), false),
        Some(SqlAction::Status { dsn: d }) => (d.or(dsn), true),
        Some(SqlAction::Down { .. }) => bail!(
            "Verity's migrations go forward only; restore a backup taken before `migrate sql` to go back"
        ),
    };
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
    if only_status {
        println!("{} migration(s) pending.", pending.len());
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
