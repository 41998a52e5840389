//! A flow to its row and back, and the loads and saves every kind shares.

use chrono::{DateTime, Utc};
use serde_json::value::{RawValue, to_raw_value};
use sqlx::types::Json;
use uuid::Uuid;

use super::error::FlowError;
use super::model::{Challenge, Flow, FlowKind, FlowType, Method, State};
use crate::persistence::Store;
use crate::persistence::flows::FlowRecord;

fn raw(v: &impl serde::Serialize) -> Result<Json<Box<RawValue>>, FlowError> {
    to_raw_value(v)
        .map(Json)
        .map_err(|e| FlowError::unexpected(format!("serialising a flow failed: {e}")))
}

fn corrupt(what: &str, value: &str) -> FlowError {
    FlowError::unexpected(format!("stored flow has an unknown {what} {value:?}"))
}

impl Flow {
    /// The row this flow is stored as.
    pub fn to_record(&self) -> Result<FlowRecord, FlowError> {
        Ok(FlowRecord {
            id: self.id,
            kind: self.kind.as_str().to_owned(),
            flow_type: self.flow_type.as_str().to_owned(),
            state: self.state.as_str().to_owned(),
            request_url: self.request_url.clone(),
            return_to: self.return_to.clone(),
            csrf_token: self.csrf_token.clone(),
            ui: raw(&self.ui)?,
            identity_id: self.identity_id,
            refresh: self.refresh,
            internal_context: raw(&self.internal_context)?,
            active_method: self.active.map(|m| m.as_str().to_owned()),
            via: self.challenge.via.map(|v| v.as_str().to_owned()),
            sent_to: self.challenge.sent_to.clone(),
            submit_count: self.challenge.submit_count,
            send_count: self.challenge.send_count,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            updated_at: self.updated_at,
        })
    }

    pub fn from_record(r: FlowRecord) -> Result<Self, FlowError> {
        fn parse_json<T: serde::de::DeserializeOwned>(
            j: &RawValue,
            what: &str,
        ) -> Result<T, FlowError> {
            serde_json::from_str(j.get()).map_err(|e| corrupt(what, &e.to_string()))
        }
        Ok(Self {
            id: r.id,
            kind: FlowKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
            flow_type: FlowType::parse(&r.flow_type)
                .ok_or_else(|| corrupt("type", &r.flow_type))?,
            state: State::parse(&r.state).ok_or_else(|| corrupt("state", &r.state))?,
            ui: parse_json(&r.ui.0, "ui")?,
            internal_context: parse_json(&r.internal_context.0, "context")?,
            active: match r.active_method.as_deref() {
                None => None,
                Some(m) => Some(Method::parse(m).ok_or_else(|| corrupt("method", m))?),
            },
            challenge: Challenge {
                submit_count: r.submit_count,
                send_count: r.send_count,
                via: match r.via.as_deref() {
                    None => None,
                    Some(v) => Some(v.parse().map_err(|_| corrupt("channel", v))?),
                },
                sent_to: r.sent_to,
            },
            request_url: r.request_url,
            return_to: r.return_to,
            csrf_token: r.csrf_token,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            updated_at: r.updated_at,
            identity_id: r.identity_id,
            refresh: r.refresh,
            transient_payload: None,
        })
    }
}

/// Loading and saving flows of any kind.
#[derive(Clone, Debug)]
pub struct Flows {
    store: Store,
}

impl Flows {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn insert(&self, f: &Flow) -> Result<(), FlowError> {
        Ok(self.store.insert_flow(&f.to_record()?).await?)
    }

    /// The flow of `kind` with this id.
    pub async fn get(&self, kind: FlowKind, id: Uuid) -> Result<Flow, FlowError> {
        match self.store.get_flow(kind.as_str(), id).await? {
            Some(r) => Flow::from_record(r),
            None => Err(FlowError::NotFound(kind)),
        }
    }

    /// The flow with this id, if it is of one of `kinds`.
    pub async fn get_of(&self, kinds: &[FlowKind], id: Uuid) -> Result<Option<Flow>, FlowError> {
        match self.store.get_any_flow(id).await? {
            Some(r) if kinds.iter().any(|k| k.as_str() == r.kind) => Flow::from_record(r).map(Some),
            _ => Ok(None),
        }
    }

    /// Saves the flow's contents; `false` when it had already finished (nothing written).
    pub async fn update(&self, f: &Flow, now: DateTime<Utc>) -> Result<bool, FlowError> {
        Ok(self.store.update_flow(&f.to_record()?, now).await?)
    }

    /// As `update`, only if nobody wrote the flow since it was read.
    pub async fn update_if_unchanged(
        &self,
        f: &Flow,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        Ok(self
            .store
            .update_flow_if_unchanged(&f.to_record()?, now)
            .await?)
    }
}
