//! The courier with real parts: an SMTP server (`support_smtp`), wiremock as SMS/voice
//! gateways, SQLite and (with TEST_DATABASE_URL) Postgres. Most tests turn the in-server
//! worker off and drive `Worker::dispatch_once` with explicit times, so backoff and leases are
//! checked without sleeping.

mod admin;
mod delivery;
mod faults;
mod gateways;
mod http_email;
mod leases;
mod postgres;
mod wakeups;
mod watch;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;
use verity::config::{Sensitive, Settings};
use verity::courier::{Channel, TemplateKind, Worker};
use verity::persistence::OutboxMessage;

use crate::helpers::{TestApp, spawn_with};
use crate::support_smtp::SmtpSink;

/// Settings for an app whose worker the test drives, sending to `smtp_uri` when given.
pub fn courier_settings(s: &mut Settings, smtp_uri: Option<String>) {
    s.courier.worker.enabled = false;
    s.courier.smtp.connection_uri = smtp_uri.map(Sensitive::new);
    s.courier
        .smtp
        .headers
        .insert("X-Courier-Test".into(), "yes".into());
}

pub async fn app_with_smtp(uri: String) -> TestApp {
    spawn_with(|s| courier_settings(s, Some(uri))).await
}

pub async fn app_with_sink() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    (app_with_smtp(sink.uri()).await, sink)
}

pub fn worker(app: &TestApp) -> Worker {
    Worker::new(app.registry.courier.clone(), app.store().clone())
}

pub fn code_data(code: &str) -> Value {
    json!({"verification_code": code, "verification_url": format!("https://id.example.com/verify?code={code}"),
           "identity": {"traits": {"email": "x@example.com"}}, "expires_in_minutes": 10})
}

pub fn compose(
    app: &TestApp,
    channel: Channel,
    to: &str,
    code: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> OutboxMessage {
    app.registry
        .courier
        .compose(
            channel,
            to,
            TemplateKind::VerificationCodeValid,
            &code_data(code),
            expires_at,
            now,
        )
        .expect("compose")
}

/// Composes and queues a verification-code message; returns its id.
pub async fn enqueue(
    app: &TestApp,
    channel: Channel,
    to: &str,
    code: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Uuid {
    let m = compose(app, channel, to, code, expires_at, now);
    app.store().enqueue_message(&m).await.expect("enqueue");
    m.id
}

/// A lease for a worker that does not exist: what a crashed worker leaves behind.
pub fn lease(until: DateTime<Utc>) -> verity::persistence::Lease {
    verity::persistence::Lease {
        owner: Uuid::new_v4(),
        until,
    }
}

pub fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// The admin view of one message (dev mode: bodies visible), with its dispatches.
pub async fn admin_message(app: &TestApp, id: Uuid) -> Value {
    let resp = app
        .get_admin(&format!("/admin/courier/messages/{id}"))
        .await;
    crate::helpers::json_with_status(resp, 200).await
}
