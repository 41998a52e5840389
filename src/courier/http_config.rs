//! Building an HTTP channel from `courier.channels[]` or `courier.http` (email), checking its
//! Jsonnet body at start.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::super::presets::{TWILIO_BASE, Twilio, VONAGE_BASE, Vonage};
use super::super::smtp::check_header_value;
use super::super::{CourierError, jsonnet, templates};
use super::{Auth, Gateway, GatewayMessage, Generic, HttpChannel};
use crate::config::{ChannelAuth, ChannelConfig, ChannelPreset, RequestConfig};
use crate::persistence::Channel;

fn config_err(id: &str, why: impl std::fmt::Display) -> CourierError {
    if id == "email" {
        return CourierError::Config(format!("courier.http.request_config: {why}"));
    }
    CourierError::Config(format!("courier.channels ({id}): {why}"))
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn generic(id: &str, rc: &RequestConfig, base_dir: Option<&Path>) -> Result<Generic, CourierError> {
    if !(rc.url.starts_with("http://") || rc.url.starts_with("https://")) {
        return Err(config_err(id, "request_config.url must be an http(s) URL"));
    }
    let method = Method::from_bytes(rc.method.to_uppercase().as_bytes())
        .map_err(|_| config_err(id, format!("unknown method {:?}", rc.method)))?;
    let mut headers = HeaderMap::new();
    for (k, v) in &rc.headers {
        check_header_value(&format!("courier.channels ({id}) header {k}"), v)?;
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| config_err(id, format!("bad header name {k:?}")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| config_err(id, format!("bad value for header {k}")))?;
        headers.insert(name, value);
    }
    let form = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body: Arc<str> = match &rc.body {
        Some(uri) => templates::read_source(uri, base_dir)
            .map_err(|e| config_err(id, format!("body: {e}")))?
            .into(),
        None if id == "email" => jsonnet::DEFAULT_EMAIL_BODY.into(),
        None => jsonnet::DEFAULT_BODY.into(),
    };
    let data = super::super::TemplateKind::VerificationCodeValid.sample_model();
    let email = id == "email";
    let sample = GatewayMessage {
        channel: Channel::parse(id).unwrap_or(Channel::Sms),
        recipient: if email {
            "user@example.com"
        } else {
            "+15550100000"
        },
        subject: if email { "Your verification code" } else { "" },
        body: "Your code is 123456",
        html_body: email.then_some("<p>Your code is 123456</p>"),
        template_type: "verification_code_valid",
        template_data: &data,
    };
    jsonnet::evaluate(&body, &sample.ctx()).map_err(|e| config_err(id, e))?;
    let auth = match &rc.auth {
        None => None,
        Some(ChannelAuth::BasicAuth { user, password }) => Some(Auth::Basic {
            user: user.clone(),
            password: password.clone(),
        }),
        Some(ChannelAuth::ApiKey {
            name,
            value,
            location,
        }) => {
            check_header_value(&format!("courier.channels ({id}) auth"), value.expose())?;
            match location.as_str() {
                "header" => Some(Auth::Header {
                    name: HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| config_err(id, "bad api_key name"))?,
                    value: value.clone(),
                }),
                "cookie" => Some(Auth::Cookie {
                    name: name.clone(),
                    value: value.clone(),
                }),
                other => {
                    return Err(config_err(
                        id,
                        format!("api_key.in must be header or cookie, got {other:?}"),
                    ));
                }
            }
        }
    };
    Ok(Generic {
        url: rc.url.clone(),
        method,
        headers,
        form,
        body,
        auth,
    })
}

impl HttpChannel {
    pub fn from_config(
        c: &ChannelConfig,
        base_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, CourierError> {
        if c.kind != "http" {
            return Err(config_err(
                &c.id,
                format!("type must be http, got {:?}", c.kind),
            ));
        }
        let gateway = match (&c.preset, &c.request_config) {
            (Some(_), Some(_)) => {
                return Err(config_err(&c.id, "set request_config or preset, not both"));
            }
            (None, Some(rc)) => Gateway::Generic(generic(&c.id, rc, base_dir)?),
            (
                Some(ChannelPreset::Twilio {
                    account_sid,
                    auth_token,
                    from,
                    base_url,
                }),
                None,
            ) => Gateway::Twilio(Twilio {
                base_url: base_url.clone().unwrap_or_else(|| TWILIO_BASE.into()),
                account_sid: account_sid.clone(),
                auth_token: auth_token.clone(),
                from: from.clone(),
            }),
            (
                Some(ChannelPreset::Vonage {
                    api_key,
                    api_secret,
                    from,
                    base_url,
                }),
                None,
            ) => {
                if c.id == "voice" {
                    return Err(config_err(&c.id, "the vonage preset sends SMS only"));
                }
                Gateway::Vonage(Vonage {
                    base_url: base_url.clone().unwrap_or_else(|| VONAGE_BASE.into()),
                    api_key: api_key.clone(),
                    api_secret: api_secret.clone(),
                    from: from.clone(),
                })
            }
            (None, None) => return Err(config_err(&c.id, "needs request_config or preset")),
        };
        Self::with_gateway(&c.id, gateway, timeout)
    }

    /// Email through `courier.http.request_config` (`courier.delivery_strategy: http`).
    pub fn for_email(
        rc: &RequestConfig,
        base_dir: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, CourierError> {
        Self::with_gateway(
            "email",
            Gateway::Generic(generic("email", rc, base_dir)?),
            timeout,
        )
    }

    fn with_gateway(id: &str, gateway: Gateway, timeout: Duration) -> Result<Self, CourierError> {
        let url = match &gateway {
            Gateway::Generic(g) => g.url.clone(),
            Gateway::Twilio(t) => t.base_url.clone(),
            Gateway::Vonage(v) => v.base_url.clone(),
        };
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| config_err(id, format!("HTTP client: {e}")))?;
        Ok(Self {
            gateway,
            client,
            host: host_of(&url),
        })
    }
}
