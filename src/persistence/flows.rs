//! Login, registration and settings flows (one table).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError, dispatch};
use crate::flow::FlowType;
use crate::flow::form::{FlowKind, FormFlow};
use crate::flow::ui::Ui;

impl Store {
    pub async fn insert_form_flow(&self, f: &FormFlow) -> Result<(), StoreError> {
        dispatch!(self, insert(f))
    }
    /// The flow with this id if it is of `kind`.
    pub async fn get_form_flow(
        &self,
        kind: FlowKind,
        id: Uuid,
    ) -> Result<Option<FormFlow>, StoreError> {
        dispatch!(self, get(kind, id))
    }
    /// Saves state, UI, CSRF token, identity and context. A flow that reached its final state
    /// is never written again, so a late form error cannot undo a success.
    pub async fn update_form_flow(
        &self,
        f: &FormFlow,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, update(f, now))
    }
    /// As `update_form_flow`, but only if the stored flow was not written since `f` was read
    /// (its `updated_at` is still `f.updated_at`): optimistic concurrency for one-time values
    /// kept in the flow. `false` when someone else wrote first.
    pub async fn update_form_flow_if_unchanged(
        &self,
        f: &FormFlow,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // A write must change `updated_at`, or a second writer could not tell.
        let now = now.max(f.updated_at + chrono::Duration::milliseconds(1));
        dispatch!(self, update_if_unchanged(f, now))
    }
}

const COLUMNS: &str = "id, kind, type, state, request_url, return_to, csrf_token, ui, identity_id, refresh, internal_context, issued_at, expires_at, updated_at";
const INSERT: &str = r#"INSERT INTO selfservice_flows (id, kind, type, state, request_url, return_to,
    csrf_token, ui, identity_id, refresh, internal_context, issued_at, expires_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12)"#;
const UPDATE: &str = r#"UPDATE selfservice_flows SET state = $2, ui = $3, csrf_token = $4,
    identity_id = $5, internal_context = $6, updated_at = $7
    WHERE id = $1 AND (kind = 'settings' OR state NOT IN ('passed_challenge', 'success'))"#;

const UPDATE_IF_UNCHANGED: &str = r#"UPDATE selfservice_flows SET state = $2, ui = $3,
    csrf_token = $4, identity_id = $5, internal_context = $6, updated_at = $7
    WHERE id = $1 AND updated_at = $8
    AND (kind = 'settings' OR state NOT IN ('passed_challenge', 'success'))"#;

#[derive(sqlx::FromRow)]
struct FlowRow {
    id: Uuid,
    kind: String,
    #[sqlx(rename = "type")]
    flow_type: String,
    state: String,
    request_url: String,
    return_to: Option<String>,
    csrf_token: String,
    ui: Json<Ui>,
    identity_id: Option<Uuid>,
    refresh: bool,
    internal_context: Json<serde_json::Value>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl FlowRow {
    fn into_flow(self) -> Result<FormFlow, StoreError> {
        Ok(FormFlow {
            id: self.id,
            kind: FlowKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown flow kind {:?}", self.kind)))?,
            flow_type: FlowType::parse(&self.flow_type).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown flow type {:?}", self.flow_type))
            })?,
            state: self.state,
            request_url: self.request_url,
            return_to: self.return_to,
            csrf_token: self.csrf_token,
            ui: self.ui.0,
            identity_id: self.identity_id,
            refresh: self.refresh,
            internal_context: self.internal_context.0,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            updated_at: self.updated_at,
            transient_payload: None,
        })
    }
}

super::backend_modules! {
    use sqlx::Pool;

    pub async fn insert(pool: &Pool<Db>, f: &FormFlow) -> Result<(), StoreError> {
        sqlx::query(INSERT)
            .bind(f.id)
            .bind(f.kind.as_str())
            .bind(f.flow_type.as_str())
            .bind(&f.state)
            .bind(&f.request_url)
            .bind(&f.return_to)
            .bind(&f.csrf_token)
            .bind(Json(&f.ui))
            .bind(f.identity_id)
            .bind(f.refresh)
            .bind(Json(&f.internal_context))
            .bind(f.issued_at)
            .bind(f.expires_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn get(pool: &Pool<Db>, kind: FlowKind, id: Uuid) -> Result<Option<FormFlow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM selfservice_flows WHERE id = $1 AND kind = $2");
        let row: Option<FlowRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).bind(kind.as_str()).fetch_optional(pool).await?;
        row.map(FlowRow::into_flow).transpose()
    }

    pub async fn update(pool: &Pool<Db>, f: &FormFlow, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = sqlx::query(UPDATE)
            .bind(f.id)
            .bind(&f.state)
            .bind(Json(&f.ui))
            .bind(&f.csrf_token)
            .bind(f.identity_id)
            .bind(Json(&f.internal_context))
            .bind(now)
            .execute(pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn update_if_unchanged(pool: &Pool<Db>, f: &FormFlow, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = sqlx::query(UPDATE_IF_UNCHANGED)
            .bind(f.id)
            .bind(&f.state)
            .bind(Json(&f.ui))
            .bind(&f.csrf_token)
            .bind(f.identity_id)
            .bind(Json(&f.internal_context))
            .bind(now)
            .bind(f.updated_at)
            .execute(pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
