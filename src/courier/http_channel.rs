//! Messages over HTTP: Kratos's generic `request_config` (a Jsonnet body, basic-auth or
//! API-key auth) for email (`courier.delivery_strategy: http`), SMS and voice, or a preset for
//! SMS and voice. 2xx (202 included) is success; 408, 429 and 5xx are transient (with
//! `Retry-After`); any other status is permanent; network errors and timeouts are transient.

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::backoff::{SendError, parse_retry_after};
use super::jsonnet;
use super::presets::{FormRequest, Twilio, Vonage};
use crate::config::Sensitive;
use crate::persistence::Channel;

/// What an HTTP gateway is asked to deliver. The Jsonnet body sees it as `ctx` with Kratos's
/// fields: `recipient`, `subject`, `body`, `html_body` (email with HTML only), `template_type`,
/// `template_data`, `message_type` and `request_headers` (always empty here).
pub struct GatewayMessage<'a> {
    pub channel: Channel,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub html_body: Option<&'a str>,
    pub template_type: &'a str,
    pub template_data: &'a Value,
}

impl GatewayMessage<'_> {
    pub fn ctx(&self) -> Value {
        let mut ctx = json!({
            "recipient": self.recipient, "subject": self.subject, "body": self.body,
            "template_type": self.template_type, "template_data": self.template_data,
            "message_type": self.channel.as_str(), "request_headers": {},
        });
        if let Some(html) = self.html_body {
            ctx["html_body"] = Value::String(html.to_owned());
        }
        ctx
    }
}

#[derive(Clone)]
enum Auth {
    Basic { user: String, password: Sensitive },
    Header { name: HeaderName, value: Sensitive },
    Cookie { name: String, value: Sensitive },
}

#[derive(Clone)]
struct Generic {
    url: String,
    method: Method,
    headers: HeaderMap,
    form: bool,
    body: Arc<str>,
    auth: Option<Auth>,
}

#[derive(Clone)]
enum Gateway {
    Generic(Generic),
    Twilio(Twilio),
    Vonage(Vonage),
}

#[derive(Clone)]
pub struct HttpChannel {
    gateway: Gateway,
    client: reqwest::Client,
    host: String,
}

impl std::fmt::Debug for HttpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.gateway {
            Gateway::Generic(_) => "http",
            Gateway::Twilio(_) => "twilio",
            Gateway::Vonage(_) => "vonage",
        };
        write!(f, "HttpChannel({kind} via {})", self.host)
    }
}

impl HttpChannel {
    pub async fn send(&self, m: &GatewayMessage<'_>) -> Result<(), SendError> {
        match &self.gateway {
            Gateway::Generic(g) => self.send_generic(g, m).await,
            Gateway::Twilio(t) => {
                let (status, headers, body) = self
                    .send_form(t.request(m.channel, m.recipient, m.body))
                    .await?;
                match Twilio::check(status, &body) {
                    None => Ok(()),
                    Some(text) => classify_status(status, &headers, text),
                }
            }
            Gateway::Vonage(v) => {
                let (status, headers, body) =
                    self.send_form(v.request(m.recipient, m.body)).await?;
                if status.is_success() {
                    Vonage::check(&body)
                } else {
                    classify_status(status, &headers, format!("Vonage HTTP {}", status.as_u16()))
                }
            }
        }
    }

    async fn send_form(
        &self,
        r: FormRequest,
    ) -> Result<(StatusCode, HeaderMap, String), SendError> {
        let mut req = form(
            self.client.post(&r.url),
            r.form.iter().map(|(k, v)| (*k, v.as_str())),
        );
        if let Some((u, p)) = r.basic_auth {
            req = req.basic_auth(u, Some(p));
        }
        read(req).await
    }

    async fn send_generic(&self, g: &Generic, m: &GatewayMessage<'_>) -> Result<(), SendError> {
        let body = jsonnet::evaluate_async(g.body.clone(), m.ctx())
            .await
            .map_err(SendError::permanent)?;
        let mut req = self
            .client
            .request(g.method.clone(), &g.url)
            .headers(g.headers.clone());
        req = if g.form {
            let pairs = form_pairs(&body);
            form(req, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        } else {
            req.json(&body)
        };
        match &g.auth {
            None => {}
            Some(Auth::Basic { user, password }) => {
                req = req.basic_auth(user, Some(password.expose()))
            }
            Some(Auth::Header { name, value }) => req = req.header(name.clone(), value.expose()),
            Some(Auth::Cookie { name, value }) => {
                req = req.header(
                    reqwest::header::COOKIE,
                    format!("{name}={}", value.expose()),
                );
            }
        }
        let (status, headers, _) = read(req).await?;
        if status.is_success() {
            return Ok(());
        }
        classify_status(
            status,
            &headers,
            format!("the gateway answered HTTP {}", status.as_u16()),
        )
    }
}

/// Sets an `application/x-www-form-urlencoded` body.
fn form<'a>(
    req: reqwest::RequestBuilder,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    req.header(
        reqwest::header::CONTENT_TYPE,
        "application/x-www-form-urlencoded",
    )
    .body(body)
}

/// A flat JSON object as form fields (strings as they are, other values as JSON).
fn form_pairs(body: &Value) -> Vec<(String, String)> {
    body.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn read(req: reqwest::RequestBuilder) -> Result<(StatusCode, HeaderMap, String), SendError> {
    let resp = req.send().await.map_err(|e| classify_reqwest(&e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Ok((status, headers, body))
}

fn classify_reqwest(e: &reqwest::Error) -> SendError {
    let text = format!("HTTP request failed: {}", strip_url(e));
    if e.is_builder() {
        SendError::permanent(text)
    } else {
        SendError::transient(text)
    }
}

/// reqwest errors print the URL, which may carry credentials in its query: leave it out.
fn strip_url(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = src {
        if !s.is_empty() {
            s.push_str(": ");
        }
        let part = err.to_string();
        s.push_str(part.split(" for url (").next().unwrap_or(&part));
        src = err.source();
    }
    s
}

/// Maps a non-success status to a transient or permanent error.
pub fn classify_status(
    status: StatusCode,
    headers: &HeaderMap,
    text: String,
) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error();
    if !transient {
        return Err(SendError::permanent(text));
    }
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    Err(SendError::Transient {
        error: text,
        retry_after,
    })
}

#[path = "http_config.rs"]
mod config;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        assert!(classify_status(StatusCode::ACCEPTED, &h, String::new()).is_ok());
        assert!(classify_status(StatusCode::CREATED, &h, String::new()).is_ok());
        for s in [429u16, 408, 500, 502, 503] {
            let r = classify_status(StatusCode::from_u16(s).unwrap(), &h, "x".into());
            assert!(matches!(r, Err(SendError::Transient { .. })), "{s}");
        }
        for s in [400u16, 401, 403, 404, 422] {
            let r = classify_status(StatusCode::from_u16(s).unwrap(), &h, "x".into());
            assert!(matches!(r, Err(SendError::Permanent { .. })), "{s}");
        }
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        let r = classify_status(StatusCode::TOO_MANY_REQUESTS, &h, "x".into());
        assert_eq!(
            r,
            Err(SendError::Transient {
                error: "x".into(),
                retry_after: Some(Duration::from_secs(30))
            })
        );
    }

    #[test]
    fn form_bodies_flatten() {
        let pairs = form_pairs(&json!({"To": "+1", "n": 3}));
        assert!(pairs.contains(&("To".into(), "+1".into())));
        assert!(pairs.contains(&("n".into(), "3".into())));
    }
}
