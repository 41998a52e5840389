//! The `verity` command line.

mod api_keys;
mod cleanup;
mod client;
mod courier;
mod hashers;
mod migrate;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "verity",
    version,
    about = "A self-hosted identity server with email and phone verification, wire-compatible with Ory Kratos"
)]
pub struct Cli {
    /// Config file (YAML, Kratos key names), before or after the command as with Kratos;
    /// repeat it (or separate with commas) to layer files, later ones winning (give them all
    /// on the same side of the command).
    /// Default: ./config.yml, or the bundled one with `serve --dev`.
    #[arg(
        short,
        long,
        env = "VERITY_CONFIG",
        global = true,
        value_delimiter = ','
    )]
    config: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the public (4433) and admin (4434) APIs.
    Serve(serve::ServeArgs),
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        command: migrate::MigrateCommand,
    },
    /// Manage identities through the admin API.
    Identities(client::IdentitiesArgs),
    /// The courier: `watch` sends queued messages, `bench` measures throughput.
    Courier {
        #[command(subcommand)]
        command: courier::CourierCommand,
    },
    /// Identity schemas.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Remove expired flows, spent codes, expired sessions and sent message texts.
    Cleanup {
        #[command(subcommand)]
        command: cleanup::CleanupCommand,
    },
    /// Password hashers: `argon2 calibrate <duration>` finds iterations for a target time.
    Hashers(hashers::HashersArgs),
    /// Partner API keys for the phone-verification API.
    ApiKeys(api_keys::ApiKeysArgs),
    /// Print the version.
    Version,
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    /// Check that a file is a JSON schema that compiles and whose ory.sh/kratos extensions are valid.
    Validate { file: PathBuf },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Load the configuration (file, then environment) and report every problem and warning.
    Validate,
}

/// Parses the arguments and runs the command; the exit code is 0 on success, 1 on failure.
pub async fn run() -> i32 {
    let cli = Cli::parse();
    let config = cli.config;
    let result = match cli.command {
        Command::Serve(args) => serve::run(args, config).await,
        Command::Migrate { command } => migrate::run(command, config).await,
        Command::Identities(args) => client::run(args).await,
        Command::Courier { command } => courier::run(command, config).await,
        Command::Cleanup { command } => cleanup::run(command, config).await,
        Command::Schema {
            command: SchemaCommand::Validate { file },
        } => validate_schema(&file),
        Command::Config {
            command: ConfigCommand::Validate,
        } => validate_config(config),
        Command::Hashers(args) => hashers::run(args).await,
        Command::ApiKeys(args) => api_keys::run(args).await,
        Command::Version => {
            println!("verity {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn validate_schema(file: &std::path::Path) -> anyhow::Result<()> {
    let lines = crate::schema::validate_file(file)?;
    println!("{} is a valid identity schema", file.display());
    for line in lines {
        println!("  {line}");
    }
    Ok(())
}

fn validate_config(config: Vec<PathBuf>) -> anyhow::Result<()> {
    let source = serve::config_source(config, false)?;
    let settings = crate::config::load(&source, std::env::vars())?;
    let sources: Vec<(String, String)> = settings
        .identity
        .schemas
        .iter()
        .map(|s| (s.id.clone(), s.url.clone()))
        .collect();
    crate::schema::SchemaRegistry::load(
        &sources,
        &settings.identity.default_schema_id,
        source.base_dir(),
    )?;
    if settings.warnings.is_empty() {
        println!("{} is valid", source.describe());
    } else {
        println!(
            "{} is valid, with {} warning(s) (Kratos keys Verity ignores):",
            source.describe(),
            settings.warnings.len()
        );
        for line in &settings.warnings {
            println!("{line}");
        }
    }
    if let Some(note) = breach_list_note(&settings) {
        println!("{note}");
    }
    Ok(())
}

/// What `haveibeenpwned_enabled` means here, said at start and by `config validate`.
fn breach_list_note(settings: &crate::config::Settings) -> Option<String> {
    let password = &settings.selfservice.methods.password;
    (password.enabled && password.config.haveibeenpwned_enabled).then(|| {
        format!(
            "haveibeenpwned_enabled: new passwords are checked against the bundled offline list of {} common and breached passwords; Verity makes no call to haveibeenpwned",
            crate::password::common_list_len()
        )
    })
}
