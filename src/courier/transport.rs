//! How emails leave: SMTP (`courier.smtp.connection_uri`), an HTTP gateway
//! (`courier.delivery_strategy: http`) or, in `--dev` without SMTP, the dev inbox.

use std::path::Path;

use super::smtp::SmtpSender;
use super::{CourierError, HTTP_TIMEOUT, HttpChannel, SMTP_TIMEOUT};

pub(super) enum EmailTransport {
    Smtp(Box<SmtpSender>),
    /// `courier.delivery_strategy: http`: each email POSTed through `courier.http.request_config`.
    Http(Box<HttpChannel>),
    Inbox,
}

/// The transport `cfg` names; `None` when emails cannot be sent (no SMTP outside `--dev`).
pub(super) fn email_transport(
    cfg: &crate::config::CourierConfig,
    dev: bool,
    base_dir: Option<&Path>,
) -> Result<Option<EmailTransport>, CourierError> {
    match cfg.delivery_strategy.as_str() {
        "http" => {
            let rc = cfg
                .http
                .as_ref()
                .map(|h| &h.request_config)
                .ok_or_else(|| {
                    CourierError::Config(
                    "courier.delivery_strategy is http, but courier.http.request_config is not set"
                        .into(),
                )
                })?;
            let h = HttpChannel::for_email(rc, base_dir, HTTP_TIMEOUT)?;
            Ok(Some(EmailTransport::Http(Box::new(h))))
        }
        "smtp" => Ok(match &cfg.smtp.connection_uri {
            Some(_) => {
                let pool = u32::try_from(cfg.worker.concurrency)
                    .unwrap_or(u32::MAX)
                    .max(1);
                let sender = SmtpSender::new(&cfg.smtp, pool, SMTP_TIMEOUT)?;
                Some(EmailTransport::Smtp(Box::new(sender)))
            }
            None if dev => Some(EmailTransport::Inbox),
            None => None,
        }),
        other => Err(CourierError::Config(format!(
            "courier.delivery_strategy must be smtp or http, got {other:?}"
        ))),
    }
}
