//! `verity identities ...`: a client of the admin API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct IdentitiesArgs {
    /// Admin API base URL; else $VERITY_ADMIN_URL, else $KRATOS_ADMIN_URL (Kratos's
    /// variable), else http://127.0.0.1:4434/.
    #[arg(short, long, env = "VERITY_ADMIN_URL", global = true)]
    endpoint: Option<String>,
    #[command(subcommand)]
    command: IdentitiesCommand,
}

/// The flag or $VERITY_ADMIN_URL (clap reads both), else Kratos's $KRATOS_ADMIN_URL.
pub(super) fn admin_url(given: Option<String>, kratos: Option<String>) -> String {
    given
        .or(kratos.filter(|k| !k.trim().is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:4434/".to_owned())
}

#[derive(clap::Subcommand, Debug)]
enum IdentitiesCommand {
    /// List identities (all pages).
    List {
        /// Only the identity with this credentials identifier (email, phone, username).
        #[arg(long)]
        identifier: Option<String>,
    },
    /// Show one identity.
    Get { id: String },
    /// Create an identity from a JSON file (`-` for standard input).
    Create { file: PathBuf },
    /// Delete identities.
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Create identities from JSON files: each holds one identity object or an array of them.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// A client of the admin API, shared by the `identities` and `api-keys` commands.
pub(super) struct Admin {
    pub(super) http: reqwest::Client,
    base: String,
}

impl Admin {
    pub(super) fn new(base: String) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base,
        })
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/admin/{path}", self.base.trim_end_matches('/'))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<(reqwest::StatusCode, Value, Option<String>)> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = resp.status();
        let link = resp
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body, link))
    }

    /// Sends and returns the JSON body, or the API's error as the reason.
    pub(super) async fn call(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let (status, body, _) = self.send(req).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(api_error(status, &body))
        }
    }
}

fn api_error(status: reqwest::StatusCode, body: &Value) -> anyhow::Error {
    let e = &body["error"];
    let reason = e["reason"]
        .as_str()
        .or(e["message"].as_str())
        .unwrap_or("no details");
    anyhow::anyhow!("{status}: {reason}")
}

fn next_link(link: Option<&str>) -> Option<String> {
    link?
        .split(',')
        .find(|p| p.contains("rel=\"next\""))
        .and_then(|p| {
            let start = p.find('<')? + 1;
            let end = p.find('>')?;
            Some(p[start..end].to_owned())
        })
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

pub async fn run(args: IdentitiesArgs) -> anyhow::Result<()> {
    let endpoint = admin_url(args.endpoint, std::env::var("KRATOS_ADMIN_URL").ok());
    let admin = Admin::new(endpoint)?;
    match args.command {
        IdentitiesCommand::List { identifier } => {
            let mut url = admin.url("identities");
            if let Some(i) = identifier {
                url = format!(
                    "{url}?credentials_identifier={}",
                    url::form_urlencoded::byte_serialize(i.as_bytes()).collect::<String>()
                );
            }
            let mut all = Vec::new();
            let mut next = Some(url);
            while let Some(u) = next {
                let (status, body, link) = admin.send(admin.http.get(&u)).await?;
                if !status.is_success() {
                    return Err(api_error(status, &body));
                }
                all.extend(body.as_array().cloned().unwrap_or_default());
                next = next_link(link.as_deref());
            }
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        IdentitiesCommand::Get { id } => {
            let (status, body, _) = admin
                .send(admin.http.get(admin.url(&format!("identities/{id}"))))
                .await?;
            if !status.is_success() {
                return Err(api_error(status, &body));
            }
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        IdentitiesCommand::Create { file } => {
            let doc = read_json(&file)?;
            let (status, body, _) = admin
                .send(admin.http.post(admin.url("identities")).json(&doc))
                .await?;
            if !status.is_success() {
                return Err(api_error(status, &body));
            }
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
        IdentitiesCommand::Delete { ids } => {
            for id in ids {
                let (status, body, _) = admin
                    .send(admin.http.delete(admin.url(&format!("identities/{id}"))))
                    .await?;
                if !status.is_success() {
                    return Err(api_error(status, &body).context(format!("deleting {id}")));
                }
                println!("{id}");
            }
        }
        IdentitiesCommand::Import { files } => import(&admin, &files).await?,
    }
    Ok(())
}

async fn import(admin: &Admin, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    for f in files {
        match read_json(f)? {
            Value::Array(items) => {
                docs.extend(items.into_iter().map(|d| (f.display().to_string(), d)))
            }
            one => docs.push((f.display().to_string(), one)),
        }
    }
    let bar = indicatif::ProgressBar::new(docs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} imported {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut failed = 0usize;
    for (n, (file, doc)) in docs.iter().enumerate() {
        let (status, body, _) = admin
            .send(admin.http.post(admin.url("identities")).json(doc))
            .await?;
        // suspend() prints whether or not the bar is drawn (it is hidden without a terminal).
        if status.is_success() {
            bar.suspend(|| println!("{}", body["id"].as_str().unwrap_or("?")));
        } else {
            failed += 1;
            bar.suspend(|| eprintln!("{file} #{n}: {}", api_error(status, &body)));
        }
        bar.inc(1);
    }
    bar.finish_with_message(format!("({failed} failed)"));
    if failed > 0 {
        bail!(
            "{failed} of {} identities could not be imported",
            docs.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn kratos_admin_url_is_the_fallback() {
        use super::admin_url;
        assert_eq!(
            admin_url(Some("http://a/".into()), Some("http://k/".into())),
            "http://a/"
        );
        assert_eq!(admin_url(None, Some("http://k/".into())), "http://k/");
        assert_eq!(admin_url(None, None), "http://127.0.0.1:4434/");
    }
}
