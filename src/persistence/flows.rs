//! Self-service flows of every kind, one table. This module knows rows, not flows: the flow
//! layer turns a `FlowRecord` into its own type and back.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError, dispatch};

/// One row of `selfservice_flows`. `ui` and `internal_context` are JSON documents the flow
/// layer serialised once; strings hold the enums' stable names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRecord {
    pub id: Uuid,
    pub kind: String,
    #[sqlx(rename = "type")]
    pub flow_type: String,
    pub state: String,
    pub request_url: String,
    pub return_to: Option<String>,
    /// The unmasked CSRF token of the browser the flow is bound to; empty for api flows.
    pub csrf_token: String,
    pub ui: Json<Box<RawValue>>,
    pub identity_id: Option<Uuid>,
    pub refresh: bool,
    pub internal_context: Json<Box<RawValue>>,
    pub active_method: Option<String>,
    pub via: Option<String>,
    /// The address the flow's last code or link went to.
    pub sent_to: Option<String>,
    pub submit_count: i32,
    pub send_count: i32,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn insert_flow(&self, f: &FlowRecord) -> Result<(), StoreError> {
        dispatch!(self, insert(f))
    }
    /// The flow with this id if it is of `kind`.
    pub async fn get_flow(&self, kind: &str, id: Uuid) -> Result<Option<FlowRecord>, StoreError> {
        dispatch!(self, get(kind, id))
    }
    /// The flow with this id, whatever its kind.
    pub async fn get_any_flow(&self, id: Uuid) -> Result<Option<FlowRecord>, StoreError> {
        dispatch!(self, get_any(id))
    }
    /// Saves state, UI, CSRF token, identity, context and active method (never the counters).
    /// A flow that passed its challenge is final: `false`, and nothing is written, when the
    /// stored flow is finished (settings flows excepted, which stay editable).
    pub async fn update_flow(
        &self,
        f: &FlowRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, update(f, now))
    }
    /// As `update_flow`, but only if the stored flow was not written since `f` was read (its
    /// `updated_at` is still `f.updated_at`): optimistic concurrency for one-time values kept
    /// in the flow. `false` when someone else wrote first.
    pub async fn update_flow_if_unchanged(
        &self,
        f: &FlowRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // A write must change `updated_at`, or a second writer could not tell.
        let now = now.max(f.updated_at + chrono::Duration::milliseconds(1));
        dispatch!(self, update_if_unchanged(f, now))
    }
}

const COLUMNS: &str = "id, kind, type, state, request_url, return_to, csrf_token, ui, identity_id, refresh, internal_context, active_method, via, sent_to, submit_count, send_count, issued_at, expires_at, updated_at";
const INSERT: &str = r#"INSERT INTO selfservice_flows (id, kind, type, state, request_url,
    return_to, csrf_token, ui, identity_id, refresh, internal_context, active_method, via,
    sent_to, submit_count, send_count, issued_at, expires_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 0, $15, $16, $15)"#;
// A flow that passed its challenge is final: no write of an older state (a late wrong
// guess, a form error, a resend) may land on it. Settings flows stay editable.
const UPDATE: &str = r#"UPDATE selfservice_flows SET state = $2, ui = $3, csrf_token = $4,
    identity_id = $5, internal_context = $6, active_method = $7, updated_at = $8
    WHERE id = $1 AND (kind = 'settings' OR state <> 'passed_challenge')"#;
const UPDATE_IF_UNCHANGED: &str = r#"UPDATE selfservice_flows SET state = $2, ui = $3,
    csrf_token = $4, identity_id = $5, internal_context = $6, active_method = $7, updated_at = $8
    WHERE id = $1 AND updated_at = $9 AND (kind = 'settings' OR state <> 'passed_challenge')"#;

/// Binds what saving a flow writes: its id (`$1`), then state, UI, CSRF token, identity,
/// context and active method (`$2` to `$7`), as `UPDATE` and `UPDATE_IF_UNCHANGED` take them.
macro_rules! bind_saved_flow {
    ($q:expr, $f:expr) => {{
        let f: &$crate::persistence::flows::FlowRecord = $f;
        $q.bind(f.id)
            .bind(&f.state)
            .bind(&f.ui)
            .bind(&f.csrf_token)
            .bind(f.identity_id)
            .bind(&f.internal_context)
            .bind(&f.active_method)
    }};
}
pub(super) use bind_saved_flow;

super::backend_modules! {

    pub async fn insert(pool: &DbPool, f: &FlowRecord) -> Result<(), StoreError> {
        sqlx::query(INSERT)
            .bind(f.id)
            .bind(&f.kind)
            .bind(&f.flow_type)
            .bind(&f.state)
            .bind(&f.request_url)
            .bind(&f.return_to)
            .bind(&f.csrf_token)
            .bind(&f.ui)
            .bind(f.identity_id)
            .bind(f.refresh)
            .bind(&f.internal_context)
            .bind(&f.active_method)
            .bind(&f.via)
            .bind(&f.sent_to)
            .bind(f.issued_at)
            .bind(f.expires_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn get(pool: &DbPool, kind: &str, id: Uuid) -> Result<Option<FlowRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM selfservice_flows WHERE id = $1 AND kind = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(kind).fetch_optional(pool).await?)
    }

    pub async fn get_any(pool: &DbPool, id: Uuid) -> Result<Option<FlowRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM selfservice_flows WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?)
    }

    pub async fn update(pool: &DbPool, f: &FlowRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        save(pool, f, now).await
    }

    /// The contents of `f`, on the pool (one statement, committed on its own) or inside a
    /// transaction.
    pub(in crate::persistence) async fn save<'e>(
        on: impl sqlx::Executor<'e, Database = Db>,
        f: &FlowRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let r = bind_saved_flow!(sqlx::query(UPDATE), f)
            .bind(now)
            .execute(on)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn update_if_unchanged(pool: &DbPool, f: &FlowRecord, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = bind_saved_flow!(sqlx::query(UPDATE_IF_UNCHANGED), f)
            .bind(now)
            .bind(f.updated_at)
            .execute(pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
