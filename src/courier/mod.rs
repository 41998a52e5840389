//! The courier: renders messages from templates, seals them into the outbox, and delivers
//! them by email (SMTP), SMS and voice (HTTP gateways) or, in `--dev` without a transport, to
//! the dev inbox. Flows call `Courier::compose` and write the returned row in their own
//! transaction; `worker::Worker` does the sending.

mod backoff;
mod deliver;
mod housekeeping;
mod http_channel;
pub(crate) mod jsonnet;
mod kind;
pub mod metrics;
mod outbox;
pub use outbox::{Dispatch, MessageFilter, MessagePage, Outbox};
mod presets;
pub use presets::xml_escape as escape_markup;
mod seal;
pub mod sink;
mod smtp;
mod smtp_pool;
pub(crate) mod templates;
mod transport;
mod worker;
mod worker_loop;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use crate::persistence::{Channel, MessageStatus, OutboxMessage};
pub use backoff::{SendError, after_failure, delay as backoff_delay};
pub use deliver::{OpenedMessage, PURGED};
pub use http_channel::{GatewayMessage, HttpChannel};
pub use kind::{TemplateKind, pascal_case};
pub use seal::{OpenError, Sealer};
pub use smtp::{SmtpTarget, TlsMode, parse_connection_uri};
pub use templates::Part;
pub use worker::{DispatchReport, Worker};

use crate::config::{Settings, WorkerConfig};
use smtp::check_header_value;
use templates::Templates;
use transport::{EmailTransport, email_transport};

#[derive(Debug, thiserror::Error)]
pub enum CourierError {
    #[error("invalid courier configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Template(String),
    #[error("no {channel} template for {kind}")]
    NoTemplate {
        kind: &'static str,
        channel: Channel,
    },
    #[error("the template model lacks {0:?}")]
    MissingData(String),
    #[error("a line break or control character in {0} was refused (header injection)")]
    HeaderInjection(String),
    #[error("invalid recipient for {0}: {1}")]
    InvalidRecipient(Channel, String),
}

/// How long one SMTP delivery may take (connecting included). The lease does not bound it: the
/// worker's heartbeat renews leases while a send is in flight.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one HTTP gateway request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

enum TextTransport {
    Http(Box<HttpChannel>),
    Inbox,
}

struct Inner {
    templates: Templates,
    sealer: Sealer,
    email: Option<EmailTransport>,
    sms: Option<TextTransport>,
    voice: Option<TextTransport>,
    message_retries: u32,
    worker: WorkerConfig,
    dev: bool,
}

/// Built once at start; cheap to clone. `Debug` shows no secret.
#[derive(Clone)]
pub struct Courier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let email = match &self.inner.email {
            Some(EmailTransport::Smtp(s)) => format!("{s:?}"),
            Some(EmailTransport::Http(h)) => format!("{h:?}"),
            Some(EmailTransport::Inbox) => "dev inbox".into(),
            None => "none".into(),
        };
        let text = |t: &Option<TextTransport>| match t {
            Some(TextTransport::Http(h)) => format!("{h:?}"),
            Some(TextTransport::Inbox) => "dev inbox".into(),
            None => "none".into(),
        };
        f.debug_struct("Courier")
            .field("email", &email)
            .field("sms", &text(&self.inner.sms))
            .field("voice", &text(&self.inner.voice))
            .field("templates", &self.inner.templates)
            .field("sealer", &self.inner.sealer)
            .finish()
    }
}

impl Courier {
    /// Loads and checks templates and transports; relative paths resolve from the cwd.
    pub fn from_settings(settings: &Settings, dev: bool) -> Result<Self, CourierError> {
        Self::from_settings_at(settings, dev, None)
    }

    /// As `from_settings`, resolving relative `file://` paths against `base_dir` too.
    pub fn from_settings_at(
        settings: &Settings,
        dev: bool,
        base_dir: Option<&Path>,
    ) -> Result<Self, CourierError> {
        let cfg = &settings.courier;
        let templates = Templates::load(cfg, base_dir)?;
        let sealer = Sealer::from_settings(settings)?;
        let email = email_transport(cfg, dev, base_dir)?;
        let mut sms = None;
        let mut voice = None;
        for c in &cfg.channels {
            let slot = match c.id.as_str() {
                "sms" => &mut sms,
                "voice" => &mut voice,
                other => {
                    return Err(CourierError::Config(format!(
                        "courier.channels: unknown channel id {other:?}"
                    )));
                }
            };
            if slot.is_some() {
                return Err(CourierError::Config(format!(
                    "courier.channels: {} is configured twice",
                    c.id
                )));
            }
            *slot = Some(TextTransport::Http(Box::new(HttpChannel::from_config(
                c,
                base_dir,
                HTTP_TIMEOUT,
            )?)));
        }
        if dev {
            sms.get_or_insert(TextTransport::Inbox);
            voice.get_or_insert(TextTransport::Inbox);
        }
        if sealer.ephemeral {
            tracing::warn!(
                "no secrets configured: queued message texts are sealed with a random key and are lost on restart"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                templates,
                sealer,
                email,
                sms,
                voice,
                message_retries: cfg.message_retries,
                worker: cfg.worker.clone(),
                dev,
            }),
        })
    }

    pub fn dev(&self) -> bool {
        self.inner.dev
    }
    /// The keys that seal message bodies, for other stores of short-lived secrets.
    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }
    pub fn worker_config(&self) -> &WorkerConfig {
        &self.inner.worker
    }
    pub fn message_retries(&self) -> u32 {
        self.inner.message_retries
    }

    /// Whether a transport (or the dev inbox) is configured for the channel.
    pub fn can_deliver(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.inner.email.is_some(),
            Channel::Sms => self.inner.sms.is_some(),
            Channel::Voice => self.inner.voice.is_some(),
        }
    }

    /// Channels delivered to the dev inbox.
    pub fn inbox_channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if matches!(self.inner.email, Some(EmailTransport::Inbox)) {
            out.push(Channel::Email);
        }
        if matches!(self.inner.sms, Some(TextTransport::Inbox)) {
            out.push(Channel::Sms);
        }
        if matches!(self.inner.voice, Some(TextTransport::Inbox)) {
            out.push(Channel::Voice);
        }
        out
    }

    /// Logs where messages go: the one-line dev-inbox notice, or a warning when email
    /// cannot be delivered at all.
    pub fn log_start(&self, admin_base: &url::Url) {
        let inbox = self.inbox_channels();
        if !inbox.is_empty() {
            let names: Vec<&str> = inbox.iter().map(|c| c.as_str()).collect();
            tracing::info!(
                "dev inbox: {} messages are not sent but kept; read them at {}admin/dev/inbox",
                names.join(", "),
                admin_base
            );
        }
        if self.inner.email.is_none() {
            // Only reachable with the smtp strategy: http without a request_config fails at start.
            tracing::warn!(
                "courier.smtp.connection_uri is not set: emails stay queued until it is"
            );
        }
    }

    /// Renders the templates for the channel and seals them: a ready outbox row. No I/O.
    pub fn compose(
        &self,
        channel: Channel,
        recipient: &str,
        kind: TemplateKind,
        data: &Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage, CourierError> {
        check_recipient(channel, recipient)?;
        let t = &self.inner.templates;
        let body_part = match channel {
            Channel::Email => Part::EmailText,
            Channel::Sms => Part::SmsBody,
            Channel::Voice => Part::VoiceBody,
        };
        if !t.has(kind, body_part) {
            return Err(CourierError::NoTemplate {
                kind: kind.as_str(),
                channel,
            });
        }
        let model = model(kind, recipient, data)?;
        let rendered = with_model_aliases(&model);
        let body = t.render(kind, body_part, &rendered)?;
        let (subject, html) = if channel == Channel::Email {
            let subject = t
                .render(kind, Part::EmailSubject, &rendered)?
                .trim()
                .to_owned();
            check_header_value("the subject", &subject)?;
            if subject.is_empty() {
                return Err(CourierError::Template(format!(
                    "the subject of {} is empty",
                    kind.as_str()
                )));
            }
            let html = t
                .has(kind, Part::EmailHtml)
                .then(|| t.render(kind, Part::EmailHtml, &rendered))
                .transpose()?;
            (subject, html)
        } else {
            (String::new(), None)
        };
        let id = Uuid::now_v7();
        let s = &self.inner.sealer;
        let data_json = serde_json::to_vec(&Value::Object(model)).unwrap_or_default();
        Ok(OutboxMessage {
            id,
            channel,
            status: MessageStatus::Queued,
            recipient: recipient.to_owned(),
            template_type: kind.as_str().to_owned(),
            subject: s.seal(id, "subject", subject.as_bytes()),
            body: s.seal(id, "body", body.as_bytes()),
            html_body: html.map(|h| s.seal(id, "html_body", h.as_bytes())),
            template_data: s.seal(id, "template_data", &data_json),
            channel_id: channel.as_str().to_owned(),
            send_count: 0,
            next_attempt_at: now,
            lease_expires_at: None,
            expires_at,
            last_error: None,
            created_at: now,
            updated_at: now,
        })
    }
}

fn check_recipient(channel: Channel, recipient: &str) -> Result<(), CourierError> {
    check_header_value("the recipient", recipient)?;
    let bad = |why: &str| CourierError::InvalidRecipient(channel, why.to_owned());
    match channel {
        Channel::Email => {
            recipient
                .parse::<lettre::Address>()
                .map_err(|_| bad("not an email address"))?;
        }
        Channel::Sms | Channel::Voice => {
            let digits = recipient
                .strip_prefix('+')
                .ok_or_else(|| bad("not an E.164 number (+ and digits)"))?;
            if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("not an E.164 number (+ and 7 to 15 digits)"));
            }
        }
    }
    Ok(())
}

/// The template model: the caller's object, `to` defaulting to the recipient, every optional
/// field present (null when not given), every required field checked.
fn model(
    kind: TemplateKind,
    recipient: &str,
    data: &Value,
) -> Result<Map<String, Value>, CourierError> {
    let mut m = match data {
        Value::Object(o) => o.clone(),
        Value::Null => Map::new(),
        _ => return Err(CourierError::MissingData("an object".into())),
    };
    m.entry("to")
        .or_insert_with(|| Value::String(recipient.to_owned()));
    for f in kind.optional_fields() {
        m.entry(*f).or_insert(Value::Null);
    }
    for f in kind.required_fields() {
        if m.get(*f).is_none_or(Value::is_null) {
            return Err(CourierError::MissingData((*f).to_owned()));
        }
    }
    Ok(m)
}

fn with_model_aliases(m: &Map<String, Value>) -> Value {
    kind::with_aliases(m)
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod compose_tests;
