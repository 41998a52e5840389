//! Kratos's `web_hook`: an HTTP call whose body a Jsonnet function builds from the flow's
//! context (`function(ctx) {...}`). With `response.ignore` it runs in the background and its
//! failures are only logged; otherwise a non-2xx answer fails the step that ran it.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::config::{ChannelAuth, Sensitive};
use crate::courier::jsonnet;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("invalid web_hook configuration: {0}")]
    Config(String),
    #[error("the web hook failed: {0}")]
    Failed(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    url: String,
    #[serde(default = "post")]
    method: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    auth: Option<ChannelAuth>,
    #[serde(default)]
    response: Option<ResponseCfg>,
    #[serde(default)]
    can_interrupt: bool,
    #[serde(default)]
    emit_analytics_event: Option<bool>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize, Default)]
struct ResponseCfg {
    #[serde(default)]
    ignore: bool,
    #[serde(default)]
    parse: bool,
}

fn post() -> String {
    "POST".into()
}

/// Kratos's default body: the whole context.
const DEFAULT_BODY: &str = "function(ctx) { flow: ctx.flow, identity: ctx.identity }";

#[derive(Clone)]
pub struct WebHook {
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    body: Arc<str>,
    auth: Option<ChannelAuth>,
    ignore_response: bool,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebHook({} {})", self.method, self.url)
    }
}

impl WebHook {
    pub fn from_config(cfg: &Value, base_dir: Option<&std::path::Path>) -> Result<Self, HookError> {
        let raw: Raw =
            serde_json::from_value(cfg.clone()).map_err(|e| HookError::Config(e.to_string()))?;
        if !raw.url.starts_with("http://") && !raw.url.starts_with("https://") {
            return Err(HookError::Config(format!(
                "url must be http(s), got {:?}",
                raw.url
            )));
        }
        let method = reqwest::Method::from_bytes(raw.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| HookError::Config(format!("unknown method {:?}", raw.method)))?;
        let body = match raw.body.as_deref() {
            Some(src) => {
                crate::courier::templates::read_source(src, base_dir).map_err(HookError::Config)?
            }
            None => DEFAULT_BODY.to_owned(),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HookError::Config(e.to_string()))?;
        let _ = (
            raw.can_interrupt,
            raw.emit_analytics_event,
            raw.id,
            raw.response.as_ref().map(|r| r.parse),
        );
        Ok(Self {
            url: raw.url,
            method,
            headers: raw.headers.into_iter().collect(),
            body: body.into(),
            auth: raw.auth,
            ignore_response: raw.response.is_some_and(|r| r.ignore),
            client,
        })
    }

    /// Runs the hook with `ctx` (`{flow, identity, request_url, ...}`).
    pub async fn run(&self, ctx: Value) -> Result<(), HookError> {
        if self.ignore_response {
            let hook = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hook.call(ctx).await {
                    tracing::warn!(error = %e, url = %hook.url, "background web hook failed");
                }
            });
            return Ok(());
        }
        self.call(ctx).await
    }

    async fn call(&self, ctx: Value) -> Result<(), HookError> {
        let body = jsonnet::evaluate_async(self.body.clone(), ctx)
            .await
            .map_err(HookError::Failed)?;
        let mut req = self
            .client
            .request(self.method.clone(), &self.url)
            .json(&body);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req = match &self.auth {
            None => req,
            Some(ChannelAuth::BasicAuth { user, password }) => {
                req.basic_auth(user, Some(password.expose()))
            }
            Some(ChannelAuth::ApiKey {
                name,
                value,
                location,
            }) if location == "cookie" => req.header(
                reqwest::header::COOKIE,
                format!("{name}={}", Sensitive::expose(value)),
            ),
            Some(ChannelAuth::ApiKey { name, value, .. }) => {
                req.header(name.as_str(), value.expose())
            }
        };
        let resp = req
            .send()
            .await
            .map_err(|e| HookError::Failed(format!("{} unreachable: {e}", self.url)))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(HookError::Failed(format!(
                "{} answered {}",
                self.url,
                resp.status()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn posts_the_jsonnet_body_with_auth() {
        crate::install_crypto_provider();
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .and(header("x-api-key", "k"))
            .and(body_partial_json(json!({"email": "a@b.io"})))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        let hook = WebHook::from_config(
            &json!({"url": format!("{}/hook", server.uri()), "method": "POST",
                    "body": "function(ctx) { email: ctx.identity.traits.email }",
                    "auth": {"type": "api_key", "config": {"name": "x-api-key", "value": "k", "in": "header"}}}),
            None,
        )
        .unwrap();
        hook.run(json!({"flow": {}, "identity": {"traits": {"email": "a@b.io"}}}))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_failing_hook_is_an_error_and_bad_config_is_refused() {
        crate::install_crypto_provider();
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        let hook = WebHook::from_config(&json!({"url": server.uri()}), None).unwrap();
        assert!(hook.run(json!({"flow": {}, "identity": {}})).await.is_err());
        assert!(WebHook::from_config(&json!({"url": "ftp://x"}), None).is_err());
        let broken = WebHook::from_config(
            &json!({"url": server.uri(), "body": "function(ctx) {"}),
            None,
        )
        .unwrap();
        assert!(
            broken.run(json!({})).await.is_err(),
            "a broken template fails the step"
        );
    }
}
