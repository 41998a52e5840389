//! `/admin/courier/messages`: the outbox as Kratos shows it. Subject and body are opened only
//! with `--dev`; otherwise they read `<redacted-unless-dev-mode>`, as in Kratos.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::courier::{Courier, Dispatch, MessageFilter, MessageStatus, OutboxMessage};
use crate::http::AppState as Registry;
use crate::http::pagination::{PageQuery, link_header, seal};
use crate::http::{ApiError, method_not_allowed};

pub const REDACTED: &str = "<redacted-unless-dev-mode>";
const DEFAULT_PAGE_SIZE: u32 = 100;
/// Kratos serves courier pages of up to 1000 messages.
const MAX_PAGE_SIZE: u32 = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/courier/messages")
            .route(web::get().to(list))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/courier/messages/{id}")
            .route(web::get().to(get))
            .default_service(web::to(method_not_allowed)),
    );
}

struct ListQuery {
    status: Option<String>,
    recipient: Option<String>,
    page: PageQuery,
}

#[allow(clippy::result_large_err)] // ApiError is the crate-wide HTTP error
/// `web::Query` cannot read numbers through `#[serde(flatten)]`, so the pairs are read here.
fn list_query(pairs: Vec<(String, String)>) -> Result<ListQuery, ApiError> {
    let number = |k: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!("The query parameter {k} must be a number."))
        })
    };
    let mut q = ListQuery {
        status: None,
        recipient: None,
        page: PageQuery {
            page_size: None,
            per_page: None,
            page_token: None,
            page: None,
        },
    };
    for (k, v) in pairs {
        match k.as_str() {
            "status" => q.status = Some(v),
            "recipient" => q.recipient = Some(v),
            "page_size" => q.page.page_size = Some(number(&k, &v)?),
            "per_page" => q.page.per_page = Some(number(&k, &v)?),
            "page_token" => q.page.page_token = Some(v),
            "page" => q.page.page = Some(v),
            _ => {}
        }
    }
    Ok(q)
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The filter a listing asks for, checked: a known status, a non-empty recipient.
fn filter(q: &ListQuery) -> Result<MessageFilter, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            MessageStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request("Message status is not valid"))?,
        ),
    };
    if q.page.page.is_some() {
        // The courier pages by keyset only; a page number ignored would loop a client forever.
        return Err(ApiError::bad_request(
            "Page-number pagination is not supported; follow the page_token in the Link header.",
        ));
    }
    let recipient = q.recipient.clone().filter(|r| !r.is_empty());
    Ok(MessageFilter {
        status,
        recipient,
        channel: None,
    })
}

/// The filter again as query parameters, for the `Link` header.
fn filter_query(f: &MessageFilter) -> String {
    let mut extra = String::new();
    if let Some(s) = f.status {
        extra.push_str(&format!("&status={}", s.as_str()));
    }
    if let Some(r) = &f.recipient {
        extra.push_str(&format!("&recipient={}", encode(r)));
    }
    extra
}

async fn list(
    reg: web::Data<Registry>,
    pairs: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let q = list_query(pairs.into_inner())?;
    let filter = filter(&q)?;
    let size = q.page.size_within(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let before = q.page.after(&reg.keyring)?;
    let page = reg.outbox.list(&filter, before, size).await?;
    let next = page
        .has_more
        .then(|| page.messages.last().map(|m| seal(&reg.keyring, m.id)))
        .flatten();
    let base = format!("{}admin/courier/messages", reg.urls.admin);
    let link = link_header(&base, size, next, &filter_query(&filter));
    let body: Vec<Value> = page
        .messages
        .iter()
        .map(|m| message_json(&reg.courier, m, None))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::LINK, link))
        .json(body))
}

async fn get(reg: web::Data<Registry>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&path)
        .map_err(|_| ApiError::bad_request("The message id is not a valid UUID."))?;
    let (m, dispatches) = reg.outbox.get(id).await.map_err(|e| match e {
        crate::service::ServiceError::NotFound => ApiError::not_found(),
        other => other.into(),
    })?;
    Ok(HttpResponse::Ok().json(message_json(&reg.courier, &m, Some(&dispatches))))
}

/// Kratos's message JSON, plus Verity's `expires_at`, `next_attempt_at` and `last_error`.
pub fn message_json(
    courier: &Courier,
    m: &OutboxMessage,
    dispatches: Option<&[Dispatch]>,
) -> Value {
    let (subject, body) = if courier.dev() {
        match courier.open(m) {
            Ok(o) => (o.subject, o.body),
            Err(_) => (
                "<sealed-with-an-unknown-key>".to_owned(),
                "<sealed-with-an-unknown-key>".to_owned(),
            ),
        }
    } else {
        (REDACTED.to_owned(), REDACTED.to_owned())
    };
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("status".into(), json!(m.status.as_str()));
    o.insert("type".into(), json!(m.channel.as_str()));
    o.insert("recipient".into(), json!(m.recipient));
    o.insert("body".into(), json!(body));
    o.insert("subject".into(), json!(subject));
    let kratos = crate::courier::TemplateKind::kratos_type(&m.template_type);
    o.insert("template_type".into(), json!(kratos));
    o.insert("verity_template_type".into(), json!(m.template_type));
    o.insert("channel".into(), json!(m.channel_id));
    o.insert("send_count".into(), json!(m.send_count));
    o.insert("expires_at".into(), json!(m.expires_at));
    o.insert("next_attempt_at".into(), json!(m.next_attempt_at));
    o.insert("last_error".into(), json!(m.last_error));
    if let Some(ds) = dispatches {
        let list: Vec<Value> = ds
            .iter()
            .map(|d| {
                let mut e = Map::new();
                e.insert("id".into(), json!(d.id));
                e.insert("message_id".into(), json!(d.message_id));
                e.insert(
                    "status".into(),
                    json!(if d.success { "success" } else { "failed" }),
                );
                if let Some(err) = &d.error {
                    e.insert("error".into(), json!({"message": err}));
                }
                e.insert("created_at".into(), json!(d.created_at));
                e.insert("updated_at".into(), json!(d.created_at));
                Value::Object(e)
            })
            .collect();
        o.insert("dispatches".into(), Value::Array(list));
    }
    o.insert("created_at".into(), json!(m.created_at));
    o.insert("updated_at".into(), json!(m.updated_at));
    Value::Object(o)
}
