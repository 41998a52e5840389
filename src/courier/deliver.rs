//! Opening a stored message and handing it to its transport.

use serde_json::Value;

use super::http_channel::GatewayMessage;
use super::smtp::Email;
use super::{Channel, Courier, EmailTransport, OpenError, OutboxMessage, SendError, TextTransport};

/// What a purged message's texts read as.
pub const PURGED: &str = "<purged after the message's lifetime>";

/// A message's texts, opened.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedMessage {
    pub subject: String,
    pub body: String,
    pub html_body: Option<String>,
    pub template_data: Value,
}

impl std::fmt::Debug for OpenedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenedMessage(..)")
    }
}

impl Courier {
    /// Opens a stored message's texts (for delivery, the dev inbox and `--dev` admin views).
    /// A purged message opens as `PURGED` texts with no template data.
    pub fn open(&self, m: &OutboxMessage) -> Result<OpenedMessage, OpenError> {
        if m.is_purged() {
            return Ok(OpenedMessage {
                subject: PURGED.to_owned(),
                body: PURGED.to_owned(),
                html_body: None,
                template_data: Value::Null,
            });
        }
        let s = &self.inner.sealer;
        let data = s.open(m.id, "template_data", &m.template_data)?;
        Ok(OpenedMessage {
            subject: s.open_string(m.id, "subject", &m.subject)?,
            body: s.open_string(m.id, "body", &m.body)?,
            html_body: m
                .html_body
                .as_ref()
                .map(|h| s.open_string(m.id, "html_body", h))
                .transpose()?,
            template_data: serde_json::from_slice(&data).map_err(|_| OpenError)?,
        })
    }

    /// One delivery attempt. Returns `Ok` once the transport accepted the message.
    pub async fn deliver(&self, m: &OutboxMessage) -> Result<(), SendError> {
        if m.is_purged() {
            return Err(SendError::permanent("the message's texts were purged"));
        }
        let opened = self
            .open(m)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let gateway = GatewayMessage {
            channel: m.channel,
            recipient: &m.recipient,
            subject: &opened.subject,
            body: &opened.body,
            html_body: opened.html_body.as_deref(),
            template_type: &m.template_type,
            template_data: &opened.template_data,
        };
        let text_transport = match m.channel {
            Channel::Email => {
                return match &self.inner.email {
                    None => Err(SendError::transient(
                        "no SMTP server is configured (courier.smtp.connection_uri)",
                    )),
                    Some(EmailTransport::Inbox) => Ok(()),
                    Some(EmailTransport::Http(h)) => h.send(&gateway).await,
                    Some(EmailTransport::Smtp(s)) => {
                        let email = Email {
                            id: m.id,
                            to: &m.recipient,
                            subject: &opened.subject,
                            text: &opened.body,
                            html: opened.html_body.as_deref(),
                        };
                        s.send(&email).await
                    }
                };
            }
            Channel::Sms => &self.inner.sms,
            Channel::Voice => &self.inner.voice,
        };
        match text_transport {
            None => Err(SendError::transient(format!(
                "no {} channel is configured (courier.channels)",
                m.channel
            ))),
            Some(TextTransport::Inbox) => Ok(()),
            Some(TextTransport::Http(h)) => h.send(&gateway).await,
        }
    }
}
