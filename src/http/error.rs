//! Kratos's JSON error envelope (`{"error": {id?, code, status, reason?, details?, message}}`)
//! for every failure the HTTP layer returns.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::identity::IdentityError;
use crate::schema::TraitError;
use crate::service::ServiceError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: Option<&'static str>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub details: Option<Box<Value>>,
    /// Siblings of `error` at the top level (`use_flow_id`, `redirect_browser_to`, ...).
    pub extra: Box<Map<String, Value>>,
    /// Seconds for a `Retry-After` header (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            id: None,
            reason: None,
            message: None,
            details: None,
            extra: Box::default(),
            retry_after: None,
        }
    }
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST).reason(reason)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND).message("Unable to locate the resource")
    }
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT).reason(reason)
    }
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE)
            .reason("The database is not reachable at the moment. Please retry shortly.")
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn id(mut self, id: &'static str) -> Self {
        self.id = Some(id);
        self
    }
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    fn default_message(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "The request was malformed or contained invalid parameters",
            401 => "The request could not be authorized",
            403 => "The requested action was forbidden",
            404 => "The requested resource could not be found",
            405 => "The request method is not allowed for this resource",
            409 => "The resource could not be created due to a conflict",
            410 => {
                "The requested resource is no longer available because it has expired or is otherwise invalid."
            }
            413 => "The request body is too large",
            415 => "The request's content type is not supported",
            429 => "Too many requests",
            503 => "The service is temporarily unavailable",
            _ => "An internal server error occurred, please contact the system administrator",
        }
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        if let Some(id) = self.id {
            error.insert("id".into(), json!(id));
        }
        error.insert("code".into(), json!(self.status.as_u16()));
        error.insert(
            "status".into(),
            json!(self.status.canonical_reason().unwrap_or("Error")),
        );
        if let Some(r) = &self.reason {
            error.insert("reason".into(), json!(r));
        }
        if let Some(d) = &self.details {
            error.insert("details".into(), (**d).clone());
        }
        let message = self
            .message
            .as_deref()
            .unwrap_or(Self::default_message(self.status));
        error.insert("message".into(), json!(message));
        let mut body = (*self.extra).clone();
        body.insert("error".into(), Value::Object(error));
        Value::Object(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.status.as_u16(),
            self.reason.as_deref().unwrap_or("")
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(id) = self.id.and_then(|id| HeaderValue::from_str(id).ok()) {
            resp.insert_header(("Ory-Error-Id", id));
        }
        let retry = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(secs) = retry {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        resp.json(self.body())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound => Self::not_found().reason("Unable to locate the resource"),
            ServiceError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::unavailable()
            }
            ServiceError::Conflict => {
                Self::conflict("The resource conflicts with an existing one.")
            }
            ServiceError::Unexpected(source) => {
                tracing::error!(error = ?source, "database error");
                Self::internal()
            }
        }
    }
}

/// A trait validation failure: 400 naming the JSON pointer and the rule broken.
pub fn validation_error(errors: &[TraitError]) -> ApiError {
    let reason = errors
        .iter()
        .map(|e| format!("{}: {}", e.pointer, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    let list: Vec<Value> = errors
        .iter()
        .map(|e| json!({"pointer": e.pointer, "message": e.message, "rule": rule_name(e)}))
        .collect();
    ApiError::bad_request(reason).details(json!({"errors": list}))
}

fn rule_name(e: &TraitError) -> &'static str {
    use crate::schema::TraitErrorKind as K;
    match e.kind {
        K::Required { .. } => "required",
        K::MinLength { .. } => "minLength",
        K::MaxLength { .. } => "maxLength",
        K::Pattern { .. } => "pattern",
        K::InvalidEmail { .. } => "format:email",
        K::InvalidPhone { .. } => "format:tel",
        K::Type { .. } => "type",
        K::Other => "schema",
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::UnknownSchema(id) => {
                Self::bad_request(format!("The identity schema {id:?} is not configured."))
            }
            IdentityError::Validation(errors) => validation_error(&errors),
            IdentityError::Invalid(reason) => Self::bad_request(reason),
            IdentityError::Conflict => {
                Self::conflict("This identity conflicts with another identity that already exists.")
            }
            IdentityError::NotFound => Self::not_found(),
            IdentityError::CredentialNotFound(reason) => Self::not_found().reason(reason),
            IdentityError::Hash(crate::hash::HashError::Overloaded) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE)
                    .reason("Too many password hashes are being computed; retry shortly.")
            }
            IdentityError::Hash(other) => {
                tracing::error!(error = %other, "password hashing failed");
                Self::internal()
            }
            IdentityError::Store(s) => ServiceError::from(s).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_kratos_fields() {
        let body = ApiError::not_found().body();
        assert_eq!(body["error"]["code"], 404);
        assert_eq!(body["error"]["status"], "Not Found");
        assert_eq!(body["error"]["message"], "Unable to locate the resource");
        assert!(body["error"].get("id").is_none());
    }

    #[test]
    fn extra_fields_sit_beside_error() {
        let mut e = ApiError::new(StatusCode::GONE).id("self_service_flow_replaced");
        e.extra.insert("use_flow_id".into(), json!("x"));
        let body = e.body();
        assert_eq!(body["use_flow_id"], "x");
        assert_eq!(body["error"]["id"], "self_service_flow_replaced");
    }
}
