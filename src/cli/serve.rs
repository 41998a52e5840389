//! `verity serve`.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::{self, ConfigSource};
use crate::startup::Application;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Development mode: plain-HTTP cookies, migrations applied at start, message bodies
    /// visible in the admin API, and the dev inbox when no SMTP server is configured.
    #[arg(long)]
    dev: bool,
    /// Kratos's flag: run the courier in this process. Verity does so anyway unless
    /// `courier.worker.enabled` is false; this flag turns it on even then.
    #[arg(long)]
    watch_courier: bool,
    /// Accepted for Kratos's command lines; Verity sends no usage statistics.
    #[arg(long, hide = true)]
    sqa_opt_out: bool,
}

pub fn config_source(config: Vec<PathBuf>, dev: bool) -> anyhow::Result<ConfigSource> {
    let mut config = config;
    match config.len() {
        0 => {}
        1 => return Ok(ConfigSource::File(config.remove(0))),
        _ => return Ok(ConfigSource::Files(config)),
    }
    let local = PathBuf::from("config.yml");
    if local.exists() {
        return Ok(ConfigSource::File(local));
    }
    if dev {
        return Ok(ConfigSource::Bundled);
    }
    bail!("no configuration: pass --config FILE (or run with --dev to use the bundled config.yml)")
}

pub async fn run(args: ServeArgs, config: Vec<PathBuf>) -> anyhow::Result<()> {
    let source = config_source(config, args.dev)?;
    let mut settings = config::load(&source, std::env::vars())?;
    if args.watch_courier {
        settings.courier.worker.enabled = true;
    }
    crate::telemetry::init(&settings.log);
    for line in &settings.warnings {
        tracing::warn!("config: {}", line.trim_start_matches("  - "));
    }
    if let Some(note) = super::breach_list_note(&settings) {
        tracing::info!("{note}");
    }
    let app = Application::build(settings, &source, args.dev, args.dev).await?;
    if !args.dev {
        check_migrations(&app).await?;
    }
    let reg = app.registry();
    tracing::info!(
        public = %reg.urls.public, admin = %reg.urls.admin, database = app.store().backend_name(),
        config = %source.describe(), "verity is listening"
    );
    if args.dev {
        print_dev_banner(&reg.urls);
    }
    app.run_until(shutdown_signal()).await
}

async fn check_migrations(app: &Application) -> anyhow::Result<()> {
    match app.store().migration_status().await {
        Ok(status) if status.iter().any(|m| !m.applied) => {
            bail!("the database schema is not up to date: run `verity migrate sql -e --yes` first")
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check migrations now; /health/ready reports when the database answers");
            Ok(())
        }
    }
}

/// Written in one go and without `println!`, which panics when stdout is closed: a server must
/// not die because whoever started it stopped reading its output.
fn print_dev_banner(urls: &crate::startup::Urls) {
    use std::io::Write;
    let (public, admin) = (&urls.public, &urls.admin);
    let banner = format!(
        "\n  Verity is running in development mode.\n  Public API:  {public}\n  Admin API:   {admin}\n  Dev inbox:   {admin}admin/dev/inbox   (emails and SMS land here)\n  Pages:       {public}ui/   (sign up, verify and sign in from a browser)\n  Try:         curl {admin}admin/identities\n               curl {public}self-service/registration/api\n  Guide:       README.md, \"Signing up, signing in and sessions\"\n\n"
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
}

/// Resolves on Ctrl-C or SIGTERM (`courier watch` stops the same way).
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Used by `migrate sql -e`: the DSN from the environment, else from the config file.
pub fn dsn_from_env_or_config(config: Vec<PathBuf>) -> anyhow::Result<String> {
    if let Ok(dsn) = std::env::var("DSN") {
        return Ok(dsn);
    }
    let source = config_source(config, false)
        .context("with -e the DSN comes from $DSN or the config file")?;
    Ok(config::load(&source, std::env::vars())?
        .dsn()
        .expose()
        .to_owned())
}
