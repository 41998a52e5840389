//! `verity api-keys ...`: partner API keys for the phone-verification API, through the admin API.

use anyhow::{Context, bail};
use serde_json::{Value, json};

#[derive(clap::Args, Debug)]
pub struct ApiKeysArgs {
    /// Admin API base URL.
    #[arg(
        short,
        long,
        env = "VERITY_ADMIN_URL",
        default_value = "http://127.0.0.1:4434/",
        global = true
    )]
    endpoint: String,
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

async fn call(req: reqwest::RequestBuilder, base: &str) -> anyhow::Result<Value> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach the admin API at {base}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let reason = body["error"]["reason"]
            .as_str()
            .or(body["error"]["message"].as_str())
            .unwrap_or("unexpected answer");
        bail!("the admin API answered {status}: {reason}");
    }
    Ok(body)
}

pub async fn run(args: ApiKeysArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().build()?;
    let base = args.endpoint.trim_end_matches('/').to_owned();
    let url = |p: &str| format!("{base}/admin/api-keys{p}");
    let out = match args.command {
        ApiKeysCommand::Create { name, credits } => {
            let req = http
                .post(url(""))
                .json(&json!({"name": name, "credits": credits}));
            let v = call(req, &base).await?;
            eprintln!("Store the secret now: it is not shown again.");
            v
        }
        ApiKeysCommand::List => call(http.get(url("")), &base).await?,
        ApiKeysCommand::Revoke { id } => {
            call(http.delete(url(&format!("/{id}"))), &base).await?;
            println!("revoked {id}");
            return Ok(());
        }
        ApiKeysCommand::TopUp { id, add } => {
            let req = http
                .post(url(&format!("/{id}/credits")))
                .json(&json!({"add": add}));
            call(req, &base).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
