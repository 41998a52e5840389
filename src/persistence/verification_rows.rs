//! Verification flow rows and their conversion to the domain type.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::StoreError;
use crate::flow::FlowType;
use crate::flow::ui::Ui;
use crate::flow::verification::{Method, State, VerificationFlow};

#[derive(sqlx::FromRow)]
pub(super) struct FlowRow {
    id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    state: String,
    active_method: Option<String>,
    request_url: String,
    return_to: Option<String>,
    csrf_token: String,
    ui: Json<Ui>,
    via: Option<String>,
    submit_count: i32,
    send_count: i32,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl FlowRow {
    pub(super) fn into_flow(self) -> Result<VerificationFlow, StoreError> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Corrupt(format!("unknown verification flow {what} {v:?}"))
        };
        Ok(VerificationFlow {
            id: self.id,
            kind: FlowType::parse(&self.kind).ok_or_else(|| corrupt("type", &self.kind))?,
            state: State::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?,
            active: match self.active_method {
                Some(m) => Some(Method::parse(&m).ok_or_else(|| corrupt("method", &m))?),
                None => None,
            },
            request_url: self.request_url,
            return_to: self.return_to,
            csrf_token: self.csrf_token,
            ui: self.ui.0,
            submit_count: self.submit_count,
            send_count: self.send_count,
            via: match self.via {
                Some(v) => Some(v.parse().map_err(|_| corrupt("channel", &v))?),
                None => None,
            },
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            transient_payload: None,
        })
    }
}
