//! `POST /fraud/send-sms` and `POST /fraud/verify-sms` (iDenfy's phone-verification API),
//! HTTP basic auth with an API key and secret. Errors use the one envelope of `ApiError`:
//! 400 names the field and rule in `details`, 401 wrong credentials, 402 no credits, 429
//! with `Retry-After`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::http::AppState as Registry;
use crate::http::{ApiError, method_not_allowed, now};
use crate::phone::{PhoneError, PhoneService};
use crate::service::ServiceError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/fraud/send-sms")
            .route(web::post().to(send_sms))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/fraud/verify-sms")
            .route(web::post().to(verify_sms))
            .default_service(web::to(method_not_allowed)),
    );
}

impl From<PhoneError> for ApiError {
    fn from(e: PhoneError) -> Self {
        match e {
            PhoneError::Invalid {
                field,
                rule,
                reason,
            } => ApiError::bad_request(format!("{field}: {reason}"))
                .details(json!({"field": field, "rule": rule})),
            PhoneError::Unauthorized => ApiError::new(StatusCode::UNAUTHORIZED)
                .reason("Wrong or missing API credentials: use HTTP basic auth with the API key as user and the API secret as password."),
            PhoneError::NoCredits => ApiError::new(StatusCode::PAYMENT_REQUIRED)
                .id("insufficient_credits")
                .reason("This API key has no number-verification credits left; nothing was sent.")
                .message("No number-verification credits left"),
            PhoneError::Limited(after) => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS)
                    .reason("Too many verification codes were requested; retry later.");
                e.retry_after = Some(after.as_secs().max(1));
                e
            }
            PhoneError::Store(s) => ServiceError::from(s).into(),
            PhoneError::Courier(c) => {
                tracing::error!(error = %c, "composing the phone verification message failed");
                ApiError::internal()
            }
        }
    }
}

async fn authenticate(reg: &Registry, req: &HttpRequest) -> Result<uuid::Uuid, ApiError> {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Ok(reg.phone.authenticate(auth).await?)
}

async fn send_sms(
    reg: web::Data<Registry>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&reg, &req).await?;
    let input = reg.phone.parse_send(&body)?;
    let request_id = reg.phone.send(key, &input, now()).await?;
    Ok(HttpResponse::Ok().json(json!({"request_id": request_id})))
}

async fn verify_sms(
    reg: web::Data<Registry>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = authenticate(&reg, &req).await?;
    let input = PhoneService::parse_verify(&body)?;
    let ok = reg.phone.verify(key, &input, now()).await?;
    Ok(HttpResponse::Ok().json(json!({"is_verified": ok})))
}
