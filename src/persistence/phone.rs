//! Partner phone-verification API: keys and credits, requests, the voice-fallback schedule.
//! A send (credit, request, SMS) and a verification (attempt, check, consume) are each one
//! transaction; a fallback step is claimed by a conditional update on its `step`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError, dispatch};
pub use phone_rows::{
    Advance, ApiKey, ApiKeyAuth, CodeOutcome, DeliveryRow, DueStep, NewPhoneRequest, PhoneCodeUse,
    PhoneRequestRow, SendOutcome,
};

#[path = "phone_rows.rs"]
mod phone_rows;

impl Store {
    pub async fn create_api_key(&self, key: &ApiKey, secret_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, create_key(key, secret_hash))
    }
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self, list_keys())
    }
    /// `false` when no such key exists or it was already revoked.
    pub async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        dispatch!(self, revoke_key(id, now))
    }
    /// The new balance, or `None` for an unknown key.
    pub async fn add_api_key_credits(&self, id: Uuid, add: i64) -> Result<Option<i64>, StoreError> {
        dispatch!(self, add_credits(id, add))
    }
    pub async fn api_key_auth(&self, key: &str) -> Result<Option<ApiKeyAuth>, StoreError> {
        dispatch!(self, key_auth(key))
    }
    pub async fn send_phone_request(&self, r: &NewPhoneRequest) -> Result<SendOutcome, StoreError> {
        dispatch!(self, send_request(r))
    }
    /// `true` exactly once per request: for the right, current, unexpired code within budget.
    pub async fn use_phone_code(&self, u: PhoneCodeUse<'_>) -> Result<bool, StoreError> {
        Ok(self.try_phone_code(u).await? == CodeOutcome::Verified)
    }
    /// `use_phone_code`, saying whether a failed attempt was a wrong code (which counts
    /// against the number's daily budget) or no usable request at all.
    pub async fn try_phone_code(&self, u: PhoneCodeUse<'_>) -> Result<CodeOutcome, StoreError> {
        dispatch!(self, use_code(u))
    }
    /// The number of this key's request, whatever its state.
    pub async fn phone_request_number(
        &self,
        request_id: &str,
        api_key_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, request_number(request_id, api_key_id))
    }
    /// Cancels the pending fallback step `step` of a request (the SMS policy refused the
    /// call); `false` when another runner moved it on first.
    pub async fn stop_phone_fallback(&self, id: &str, step: i32) -> Result<bool, StoreError> {
        dispatch!(self, stop_fallback(id, step))
    }
    pub async fn due_phone_steps(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueStep>, StoreError> {
        dispatch!(self, due_steps(now, limit))
    }
    /// `false` when another runner took the step, or the request was verified meanwhile.
    pub async fn advance_phone_step(&self, a: &Advance) -> Result<bool, StoreError> {
        dispatch!(self, advance(a))
    }
    /// The newest `limit` requests and their channel histories.
    pub async fn list_phone_requests(
        &self,
        limit: i64,
    ) -> Result<(Vec<PhoneRequestRow>, Vec<DeliveryRow>), StoreError> {
        dispatch!(self, list_requests(limit))
    }
}

const INSERT_KEY: &str = r#"INSERT INTO phone_api_keys (id, name, key, secret_hash, credits, revoked_at, created_at)
    VALUES ($1, $2, $3, $4, $5, NULL, $6)"#;
const LIST_KEYS: &str = "SELECT id, name, key, credits, revoked_at, created_at FROM phone_api_keys ORDER BY created_at, id";
const REVOKE_KEY: &str =
    "UPDATE phone_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
const ADD_CREDITS: &str =
    "UPDATE phone_api_keys SET credits = credits + $2 WHERE id = $1 RETURNING credits";
const KEY_AUTH: &str = "SELECT id, secret_hash, revoked_at FROM phone_api_keys WHERE key = $1";
const SPEND_CREDIT: &str = r#"UPDATE phone_api_keys SET credits = credits - 1
    WHERE id = $1 AND credits > 0 AND revoked_at IS NULL"#;
const INSERT_REQUEST: &str = r#"INSERT INTO phone_verifications
    (id, api_key_id, phone_number, sender_name, code_hmac, code_sealed, expires_at, attempts, status, step, next_step_at, verified_at, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'pending', 0, $8, NULL, $9)"#;
const INSERT_DELIVERY: &str = "INSERT INTO phone_verification_deliveries (request_id, step, channel, sent_at) VALUES ($1, $2, $3, $4)";
const COUNT_ATTEMPT: &str = r#"UPDATE phone_verifications SET attempts = attempts + 1
    WHERE id = $1 AND api_key_id = $2 RETURNING attempts, status, code_hmac, expires_at"#;
const MARK_VERIFIED: &str = r#"UPDATE phone_verifications
    SET status = 'verified', verified_at = $2, next_step_at = NULL, code_sealed = NULL
    WHERE id = $1 AND status = 'pending'"#;
const MARK_FAILED: &str = r#"UPDATE phone_verifications
    SET status = 'failed', next_step_at = NULL, code_sealed = NULL WHERE id = $1 AND status = 'pending'"#;
const REQUEST_NUMBER: &str =
    "SELECT phone_number FROM phone_verifications WHERE id = $1 AND api_key_id = $2";
const STOP_FALLBACK: &str = "UPDATE phone_verifications SET next_step_at = NULL WHERE id = $1 AND step = $2 AND status = 'pending'";
const DUE_STEPS: &str = r#"SELECT id, phone_number, sender_name, code_sealed, expires_at, step
    FROM phone_verifications WHERE status = 'pending' AND next_step_at IS NOT NULL AND next_step_at <= $1
    ORDER BY next_step_at LIMIT $2"#;
const ADVANCE_STEP: &str = r#"UPDATE phone_verifications
    SET step = step + 1, code_hmac = COALESCE($3, code_hmac),
        attempts = CASE WHEN $3 IS NULL THEN attempts ELSE 0 END,
        code_sealed = $4, expires_at = $5, next_step_at = $6
    WHERE id = $1 AND step = $2 AND status = 'pending' AND next_step_at IS NOT NULL AND next_step_at <= $7"#;
const LIST_REQUESTS: &str = r#"SELECT id, api_key_id, phone_number, sender_name, expires_at, attempts, status, step, next_step_at, verified_at, created_at
    FROM phone_verifications ORDER BY created_at DESC, id LIMIT $1"#;
const LIST_DELIVERIES: &str = r#"SELECT d.request_id, d.step, d.channel, d.sent_at
    FROM phone_verification_deliveries d
    JOIN (SELECT id FROM phone_verifications ORDER BY created_at DESC, id LIMIT $1) v ON v.id = d.request_id
    ORDER BY d.request_id, d.step"#;

super::backend_modules! {

    pub async fn create_key(pool: &DbPool, k: &ApiKey, secret_hash: &str) -> Result<(), StoreError> {
        sqlx::query(INSERT_KEY)
            .bind(k.id)
            .bind(&k.name)
            .bind(&k.key)
            .bind(secret_hash)
            .bind(k.credits)
            .bind(k.created_at)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn list_keys(pool: &DbPool) -> Result<Vec<ApiKey>, StoreError> {
        Ok(sqlx::query_as(LIST_KEYS).fetch_all(pool).await?)
    }

    pub async fn revoke_key(pool: &DbPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = sqlx::query(REVOKE_KEY).bind(id).bind(now).execute(pool).await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn add_credits(pool: &DbPool, id: Uuid, add: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(ADD_CREDITS).bind(id).bind(add).fetch_optional(pool).await?)
    }

    pub async fn key_auth(pool: &DbPool, key: &str) -> Result<Option<ApiKeyAuth>, StoreError> {
        Ok(sqlx::query_as(KEY_AUTH).bind(key).fetch_optional(pool).await?)
    }

    pub async fn send_request(pool: &DbPool, r: &NewPhoneRequest) -> Result<SendOutcome, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = send_in(&mut tx, r).await;
        crate::persistence::finish(tx, result).await
    }

    async fn send_in(tx: &mut DbTx, r: &NewPhoneRequest) -> Result<SendOutcome, StoreError> {
        let spent = sqlx::query(SPEND_CREDIT).bind(r.api_key_id).execute(&mut **tx).await?;
        if spent.rows_affected() != 1 {
            return Ok(SendOutcome::NoCredits);
        }
        sqlx::query(INSERT_REQUEST)
            .bind(&r.id)
            .bind(r.api_key_id)
            .bind(&r.phone_number)
            .bind(&r.sender_name)
            .bind(&r.code_hmac)
            .bind(&r.code_sealed)
            .bind(r.expires_at)
            .bind(r.next_step_at)
            .bind(r.now)
            .execute(&mut **tx)
            .await?;
        sqlx::query(INSERT_DELIVERY)
            .bind(&r.id)
            .bind(0_i32)
            .bind(r.message.channel.as_str())
            .bind(r.now)
            .execute(&mut **tx)
            .await?;
        dialect::outbox::insert_message(tx, &r.message).await?;
        Ok(SendOutcome::Queued)
    }

    pub async fn request_number(pool: &DbPool, id: &str, key: Uuid) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(REQUEST_NUMBER).bind(id).bind(key).fetch_optional(pool).await?)
    }

    pub async fn stop_fallback(pool: &DbPool, id: &str, step: i32) -> Result<bool, StoreError> {
        let r = sqlx::query(STOP_FALLBACK).bind(id).bind(step).execute(pool).await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn use_code(pool: &DbPool, u: PhoneCodeUse<'_>) -> Result<CodeOutcome, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = use_in(&mut tx, u).await;
        crate::persistence::finish(tx, result).await
    }

    async fn use_in(tx: &mut DbTx, u: PhoneCodeUse<'_>) -> Result<CodeOutcome, StoreError> {
        // Counted first, under the row lock: concurrent attempts queue here.
        let row: Option<(i32, String, String, DateTime<Utc>)> = sqlx::query_as(COUNT_ATTEMPT)
            .bind(u.request_id)
            .bind(u.api_key_id)
            .fetch_optional(&mut **tx)
            .await?;
        let Some((attempts, status, code_hmac, expires_at)) = row else {
            return Ok(CodeOutcome::Unusable);
        };
        if status != "pending" || u.now >= expires_at {
            return Ok(CodeOutcome::Unusable);
        }
        if attempts > u.max_attempts {
            sqlx::query(MARK_FAILED).bind(u.request_id).execute(&mut **tx).await?;
            return Ok(CodeOutcome::Unusable);
        }
        let mut matched = false;
        for c in u.candidates {
            matched |= crate::crypto::constant_time_eq(code_hmac.as_bytes(), c.as_bytes());
        }
        if !matched {
            if attempts >= u.max_attempts {
                sqlx::query(MARK_FAILED).bind(u.request_id).execute(&mut **tx).await?;
            }
            return Ok(CodeOutcome::Wrong);
        }
        let done = sqlx::query(MARK_VERIFIED).bind(u.request_id).bind(u.now).execute(&mut **tx).await?;
        Ok(if done.rows_affected() == 1 { CodeOutcome::Verified } else { CodeOutcome::Unusable })
    }

    pub async fn due_steps(pool: &DbPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<DueStep>, StoreError> {
        Ok(sqlx::query_as(DUE_STEPS).bind(now).bind(limit).fetch_all(pool).await?)
    }

    pub async fn advance(pool: &DbPool, a: &Advance) -> Result<bool, StoreError> {
        let mut tx = pool.begin_with(dialect::BEGIN_WRITE).await?;
        let result = advance_in(&mut tx, a).await;
        crate::persistence::finish(tx, result).await
    }

    async fn advance_in(tx: &mut DbTx, a: &Advance) -> Result<bool, StoreError> {
        let claimed = sqlx::query(ADVANCE_STEP)
            .bind(&a.id)
            .bind(a.from_step)
            .bind(&a.new_code_hmac)
            .bind(&a.code_sealed)
            .bind(a.expires_at)
            .bind(a.next_step_at)
            .bind(a.now)
            .execute(&mut **tx)
            .await?;
        if claimed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(INSERT_DELIVERY)
            .bind(&a.id)
            .bind(a.from_step + 1)
            .bind(a.message.channel.as_str())
            .bind(a.now)
            .execute(&mut **tx)
            .await?;
        dialect::outbox::insert_message(tx, &a.message).await?;
        Ok(true)
    }

    pub async fn list_requests(pool: &DbPool, limit: i64) -> Result<(Vec<PhoneRequestRow>, Vec<DeliveryRow>), StoreError> {
        let rows = sqlx::query_as(LIST_REQUESTS).bind(limit).fetch_all(pool).await?;
        let deliveries = sqlx::query_as(LIST_DELIVERIES).bind(limit).fetch_all(pool).await?;
        Ok((rows, deliveries))
    }
}
