//! Self-service errors kept for the error UI, which reads them back by id.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Store, StoreError, dispatch};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredError {
    pub id: Uuid,
    /// The error object of Kratos's envelope (`{code, status, reason?, message, ...}`).
    pub error: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn insert_selfservice_error(&self, e: &StoredError) -> Result<(), StoreError> {
        dispatch!(self, insert_error(e))
    }
    pub async fn get_selfservice_error(&self, id: Uuid) -> Result<Option<StoredError>, StoreError> {
        dispatch!(self, get_error(id))
    }
    /// Deletes errors created before `before`; returns how many.
    pub async fn purge_errors(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, purge_errors(before))
    }
}

const INSERT: &str =
    "INSERT INTO selfservice_errors (id, error, created_at, updated_at) VALUES ($1, $2, $3, $4)";
const SELECT: &str =
    "SELECT id, error, created_at, updated_at FROM selfservice_errors WHERE id = $1";
const PURGE: &str = "DELETE FROM selfservice_errors WHERE created_at < $1";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    error: sqlx::types::Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

super::backend_modules! {
    use sqlx::types::Json;

    pub async fn insert_error(pool: &DbPool, e: &StoredError) -> Result<(), StoreError> {
        sqlx::query(INSERT)
            .bind(e.id)
            .bind(Json(&e.error))
            .bind(e.created_at)
            .bind(e.updated_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn get_error(pool: &DbPool, id: Uuid) -> Result<Option<StoredError>, StoreError> {
        let row: Option<Row> = sqlx::query_as(SELECT).bind(id).fetch_optional(pool).await?;
        Ok(row.map(|r| StoredError {
            id: r.id,
            error: r.error.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }))
    }

    pub async fn purge_errors(pool: &DbPool, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let res = sqlx::query(PURGE).bind(before).execute(pool).await?;
        Ok(res.rows_affected())
    }
}
