//! `verity api-keys ...`: partner API keys for the phone-verification API, through the admin API.

use serde_json::json;

use super::client::Admin;

#[derive(clap::Args, Debug)]
pub struct ApiKeysArgs {
    /// Admin API base URL; else $VERITY_ADMIN_URL, else $KRATOS_ADMIN_URL, else
    /// http://127.0.0.1:4434/.
    #[arg(short, long, env = "VERITY_ADMIN_URL", global = true)]
    endpoint: Option<String>,
    #[command(subcommand)]
    command: ApiKeysCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ApiKeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// Number-verification credits to start with.
        #[arg(long, default_value_t = 0)]
        credits: i64,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
    /// Add credits to a key.
    TopUp {
        id: String,
        #[arg(long)]
        add: i64,
    },
}

pub async fn run(args: ApiKeysArgs) -> anyhow::Result<()> {
    let endpoint = super::client::admin_url(args.endpoint, std::env::var("KRATOS_ADMIN_URL").ok());
    let admin = Admin::new(endpoint)?;
    let http = &admin.http;
    let url = |p: &str| admin.url(&format!("api-keys{p}"));
    let out = match args.command {
        ApiKeysCommand::Create { name, credits } => {
            let req = http
                .post(url(""))
                .json(&json!({"name": name, "credits": credits}));
            let v = admin.call(req).await?;
            eprintln!("Store the secret now: it is not shown again.");
            v
        }
        ApiKeysCommand::List => admin.call(http.get(url(""))).await?,
        ApiKeysCommand::Revoke { id } => {
            admin.call(http.delete(url(&format!("/{id}")))).await?;
            println!("revoked {id}");
            return Ok(());
        }
        ApiKeysCommand::TopUp { id, add } => {
            let req = http
                .post(url(&format!("/{id}/credits")))
                .json(&json!({"add": add}));
            admin.call(req).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
