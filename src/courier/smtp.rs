//! Email over SMTP with lettre's pooled async transport.
//!
//! `courier.smtp.connection_uri` keeps Kratos's meaning, which is not lettre's `from_url`:
//! `smtp://` requires STARTTLS unless `?disable_starttls=true`, `smtps://` is implicit TLS,
//! `?skip_ssl_verify=true` accepts any certificate, `?server_name=` sets the name the
//! certificate is checked against, and user:password in the URI are the credentials.

use std::time::Duration;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;
use uuid::Uuid;

use super::CourierError;
use super::backoff::SendError;
use super::smtp_pool::{Connector, SmtpPool};
use crate::config::{Sensitive, SmtpConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text (`smtp://…?disable_starttls=true`).
    None,
    /// `smtp://`: the server must offer STARTTLS, or nothing is sent.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A parsed `connection_uri`. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub skip_verify: bool,
    pub server_name: Option<String>,
    pub user: Option<String>,
    pub password: Option<Sensitive>,
}

fn flag(url: &url::Url, name: &str) -> Result<bool, CourierError> {
    match url.query_pairs().find(|(k, _)| k == name) {
        None => Ok(false),
        Some((_, v)) => match v.as_ref() {
            "true" | "1" | "" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(CourierError::Config(format!(
                "courier.smtp.connection_uri: {name} must be true or false, got {other:?}"
            ))),
        },
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Parses a Kratos SMTP connection URI. Errors never repeat the URI (it holds a password).
pub fn parse_connection_uri(uri: &str) -> Result<SmtpTarget, CourierError> {
    let bad = |why: &str| CourierError::Config(format!("courier.smtp.connection_uri: {why}"));
    let url = url::Url::parse(uri).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        _ => return Err(bad("the scheme must be smtp or smtps")),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let disable_starttls = flag(&url, "disable_starttls")?;
    let tls = match (implicit, disable_starttls) {
        (true, _) => TlsMode::Implicit,
        (false, true) => TlsMode::None,
        (false, false) => TlsMode::StartTls,
    };
    let port = url.port().unwrap_or(match tls {
        TlsMode::Implicit => 465,
        TlsMode::StartTls => 587,
        TlsMode::None => 25,
    });
    let user = (!url.username().is_empty()).then(|| decode(url.username()));
    let password = url.password().map(|p| Sensitive::new(decode(p)));
    let server_name = url
        .query_pairs()
        .find(|(k, _)| k == "server_name")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    Ok(SmtpTarget {
        host,
        port,
        tls,
        skip_verify: flag(&url, "skip_ssl_verify")?,
        server_name,
        user,
        password,
    })
}

/// Rejects CR, LF and other control characters, the stuff of header injection.
pub fn check_header_value(what: &str, value: &str) -> Result<(), CourierError> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CourierError::HeaderInjection(what.to_owned()));
    }
    Ok(())
}

/// A ready email, plaintext and HTML.
pub struct Email<'a> {
    pub id: Uuid,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

pub struct SmtpSender {
    pool: SmtpPool,
    from: Mailbox,
    headers: Vec<(HeaderName, String)>,
    id_domain: String,
    target: String,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpSender({}, from {})", self.target, self.from.email)
    }
}

impl SmtpSender {
    pub fn new(cfg: &SmtpConfig, pool_size: u32, timeout: Duration) -> Result<Self, CourierError> {
        let uri = cfg
            .connection_uri
            .as_ref()
            .ok_or_else(|| CourierError::Config("courier.smtp.connection_uri is not set".into()))?;
        let t = parse_connection_uri(uri.expose())?;
        check_header_value("courier.smtp.from_address", &cfg.from_address)?;
        if let Some(n) = &cfg.from_name {
            check_header_value("courier.smtp.from_name", n)?;
        }
        let address = cfg.from_address.parse().map_err(|e| {
            CourierError::Config(format!("courier.smtp.from_address is not an address: {e}"))
        })?;
        let from = Mailbox::new(cfg.from_name.clone(), address);
        let mut headers = Vec::new();
        for (name, value) in &cfg.headers {
            check_header_value(&format!("courier.smtp.headers.{name}"), value)?;
            let hn = HeaderName::new_from_ascii(name.clone()).map_err(|_| {
                CourierError::Config(format!(
                    "courier.smtp.headers: {name:?} is not a header name"
                ))
            })?;
            headers.push((hn, value.clone()));
        }
        let tls_params = || {
            TlsParameters::builder(t.server_name.clone().unwrap_or_else(|| t.host.clone()))
                .dangerous_accept_invalid_certs(t.skip_verify)
                .dangerous_accept_invalid_hostnames(t.skip_verify)
                .build_rustls()
                .map_err(|e| CourierError::Config(format!("SMTP TLS setup failed: {e}")))
        };
        let tls = match t.tls {
            TlsMode::None => None,
            TlsMode::StartTls | TlsMode::Implicit => Some(tls_params()?),
        };
        let hello = match &cfg.local_name {
            Some(local) => ClientId::Domain(local.clone()),
            None => ClientId::default(),
        };
        let credentials = t.user.as_ref().map(|user| {
            let pass = t.password.as_ref().map(|p| p.expose().to_owned());
            Credentials::new(user.clone(), pass.unwrap_or_default())
        });
        let connector = Connector {
            host: t.host.clone(),
            port: t.port,
            hello,
            tls,
            implicit: t.tls == TlsMode::Implicit,
            credentials,
            timeout,
        };
        let id_domain = cfg
            .from_address
            .rsplit_once('@')
            .map_or("verity.local", |(_, d)| d)
            .to_owned();
        Ok(Self {
            pool: SmtpPool::new(connector, pool_size as usize),
            from,
            headers,
            id_domain,
            target: format!("{}:{}", t.host, t.port),
        })
    }

    /// The Message-ID of a message: the same on every attempt, so a duplicate after a crash
    /// can be recognised downstream.
    pub fn message_id(&self, id: Uuid) -> String {
        format!("<{id}@{}>", self.id_domain)
    }

    pub fn build(&self, email: &Email<'_>) -> Result<Message, SendError> {
        check_header_value("subject", email.subject)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| SendError::permanent(format!("invalid recipient address: {e}")))?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(self.message_id(email.id)));
        for (name, value) in &self.headers {
            b = b.raw_header(HeaderValue::new(name.clone(), value.clone()));
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.to_owned());
        let result = match email.html {
            Some(html) => b.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.to_owned()),
                ),
            ),
            None => b.singlepart(text),
        };
        result.map_err(|e| SendError::permanent(format!("cannot build the email: {e}")))
    }

    pub async fn send(&self, email: &Email<'_>) -> Result<(), SendError> {
        let message = self.build(email)?;
        self.pool
            .send(message.envelope(), &message.formatted())
            .await
    }
}

/// SMTP 5xx is permanent; 4xx, network trouble, timeouts and TLS failures are transient
/// (a TLS or login problem is usually fixed by the operator while the code is still valid).
pub fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() {
        SendError::permanent(text)
    } else {
        SendError::transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kratos_uri_semantics() {
        let t = parse_connection_uri("smtp://mail.example.com").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("mail.example.com", 587, TlsMode::StartTls)
        );
        let t = parse_connection_uri("smtp://127.0.0.1:1025/?disable_starttls=true").unwrap();
        assert_eq!((t.port, t.tls), (1025, TlsMode::None));
        let t = parse_connection_uri("smtps://u%40x:p%2Fw%3A@smtp.example.com/?skip_ssl_verify=true&server_name=mx.example.com").unwrap();
        assert_eq!(
            (t.port, t.tls, t.skip_verify),
            (465, TlsMode::Implicit, true)
        );
        assert_eq!(t.user.as_deref(), Some("u@x"));
        assert_eq!(t.password.as_ref().unwrap().expose(), "p/w:");
        assert_eq!(t.server_name.as_deref(), Some("mx.example.com"));
        assert!(
            !format!("{t:?}").contains("p/w"),
            "Debug hides the password"
        );
    }

    #[test]
    fn bad_uris_are_refused_without_echoing_secrets() {
        for uri in [
            "http://x",
            "smtp://",
            "smtp://h?disable_starttls=maybe",
            "not a url",
        ] {
            assert!(parse_connection_uri(uri).is_err(), "{uri}");
        }
        let e = parse_connection_uri("ftp://user:hunter2@h").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn header_values_with_line_breaks_are_refused() {
        assert!(check_header_value("subject", "Hello").is_ok());
        assert!(check_header_value("subject", "Hi\r\nBcc: x@evil.com").is_err());
        assert!(check_header_value("subject", "Hi\nBcc: x@evil.com").is_err());
        assert!(check_header_value("subject", "Hi\rthere").is_err());
    }

    #[tokio::test]
    async fn message_id_is_stable_and_multipart_is_built() {
        crate::install_crypto_provider();
        let cfg = SmtpConfig {
            connection_uri: Some(Sensitive::new(
                "smtp://127.0.0.1:2525/?disable_starttls=true",
            )),
            from_address: "no-reply@example.org".into(),
            from_name: Some("Example".into()),
            headers: [("X-Tag".to_owned(), "courier".to_owned())].into(),
            local_name: None,
        };
        let s = SmtpSender::new(&cfg, 2, Duration::from_secs(5)).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(s.message_id(id), format!("<{id}@example.org>"));
        let email = Email {
            id,
            to: "a@example.com",
            subject: "S",
            text: "plain",
            html: Some("<p>html</p>"),
        };
        let raw = String::from_utf8(s.build(&email).unwrap().formatted()).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{id}@example.org>")));
        assert!(raw.contains("X-Tag: courier"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/html"));
        let evil = Email {
            subject: "x\r\nBcc: y@evil.com",
            ..email
        };
        assert!(matches!(s.build(&evil), Err(SendError::Permanent { .. })));
        let mut bad = cfg.clone();
        bad.from_name = Some("Eve\r\nBcc: y@evil.com".into());
        assert!(matches!(
            SmtpSender::new(&bad, 1, Duration::from_secs(1)),
            Err(CourierError::HeaderInjection(_))
        ));
    }
}
