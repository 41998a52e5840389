//! `/admin/dev/inbox`: with `--dev` and no transport, messages are kept in the database and
//! shown here, newest first, code included, as HTML or JSON (`Accept: application/json` or
//! `/admin/dev/inbox.json`). Outside `--dev` the route does not exist (404).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::courier::{MessageFilter, OutboxMessage, escape_markup};
use crate::http::ApiError;
use crate::http::AppState as Registry;

const SHOWN: u32 = 100;
/// Template model keys that hold the code a message carries.
const CODE_KEYS: [&str; 5] = [
    "verification_code",
    "recovery_code",
    "login_code",
    "registration_code",
    "code",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dev/inbox", web::get().to(inbox))
        .route("/dev/inbox.json", web::get().to(inbox_json));
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_in_messages_become_links() {
        let html = super::linkify("Open https://id.example/x?a=1&b=2 now <b>");
        assert_eq!(
            html,
            "Open <a href=\"https://id.example/x?a=1&amp;b=2\">https://id.example/x?a=1&amp;b=2</a> now &lt;b&gt;"
        );
    }
}

#[derive(Deserialize)]
struct InboxQuery {
    recipient: Option<String>,
    /// The page of the built-in UI the person came from (a link back is shown for it).
    back: Option<String>,
}

struct Entry {
    message: OutboxMessage,
    json: Value,
}

async fn entries(reg: &Registry, recipient: Option<String>) -> Result<Vec<Entry>, ApiError> {
    let channels = reg.courier.inbox_channels();
    if !reg.dev || channels.is_empty() {
        return Err(ApiError::not_found());
    }
    let mut messages = Vec::new();
    for channel in channels {
        let filter = MessageFilter {
            status: None,
            recipient: recipient.clone().filter(|r| !r.is_empty()),
            channel: Some(channel),
        };
        messages.extend(reg.outbox.list(&filter, None, SHOWN).await?.messages);
    }
    // Decoys carry a code that matches nothing; the inbox shows what was really sent.
    messages.retain(|m| !m.is_decoy());
    messages.sort_by_key(|m| std::cmp::Reverse(m.id));
    messages.truncate(SHOWN as usize);
    Ok(messages.into_iter().map(|m| entry(reg, m)).collect())
}

/// A message opened for the inbox, with the code its template data carries.
fn entry(reg: &Registry, m: OutboxMessage) -> Entry {
    let opened = reg.courier.open(&m).ok();
    let code = opened.as_ref().and_then(|o| {
        CODE_KEYS
            .iter()
            .find_map(|k| o.template_data.get(*k).filter(|v| !v.is_null()).cloned())
    });
    let json = json!({
        "id": m.id, "type": m.channel.as_str(), "status": m.status.as_str(),
        "recipient": m.recipient, "template_type": m.template_type,
        "subject": opened.as_ref().map(|o| o.subject.clone()),
        "body": opened.as_ref().map(|o| o.body.clone()),
        "html_body": opened.as_ref().and_then(|o| o.html_body.clone()),
        "code": code, "created_at": m.created_at,
    });
    Entry { message: m, json }
}

async fn inbox_json(
    reg: web::Data<Registry>,
    q: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let list: Vec<Value> = entries(&reg, q.into_inner().recipient)
        .await?
        .into_iter()
        .map(|e| e.json)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

async fn inbox(
    reg: web::Data<Registry>,
    req: HttpRequest,
    q: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return inbox_json(reg, q).await;
    }
    let q = q.into_inner();
    // Only a page of this server's public side, so the link cannot send anyone elsewhere.
    let back = q
        .back
        .filter(|b| b.starts_with(reg.urls.public.as_str()))
        .filter(|b| !b.contains(['"', '<', '>']));
    let list = entries(&reg, q.recipient).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page(&list, back.as_deref())))
}

/// Escaped text with every `http(s)://` URL made a link.
fn linkify(text: &str) -> String {
    let escaped = escape_markup(text);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let url_len = ["&lt;", "&gt;", "&quot;", "&#39;"]
            .iter()
            .filter_map(|stop| tail.find(stop))
            .chain(tail.find(char::is_whitespace))
            .min()
            .unwrap_or(tail.len());
        let url = &rest[start..start + url_len];
        out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
        rest = &rest[start + url_len..];
    }
    out.push_str(rest);
    out
}

fn page(list: &[Entry], back: Option<&str>) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>Verity dev inbox</title>\
         <style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         article{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}\
         .code{font-size:1.6rem;font-weight:bold;letter-spacing:.2rem}\
         .meta{color:#555;font-size:.9rem}pre{white-space:pre-wrap}</style></head><body>\
         <h1>Dev inbox</h1><p>Messages Verity would have sent, newest first. This page exists \
         only with <code>--dev</code>; it refreshes every 5 seconds.</p>\n",
    );
    if let Some(b) = back {
        html.push_str(&format!(
            "<p><a id=\"back\" href=\"{}\">&larr; Back to the page you came from</a></p>\n",
            escape_markup(b)
        ));
    }
    if list.is_empty() {
        html.push_str("<p>No messages yet.</p>\n");
    }
    for e in list {
        let m = &e.message;
        let text = |k: &str| e.json[k].as_str().map(escape_markup).unwrap_or_default();
        html.push_str("<article>");
        html.push_str(&format!(
            "<p class=\"meta\">{} &middot; {} to <strong>{}</strong> &middot; {} &middot; {}</p>",
            escape_markup(&m.created_at.to_rfc3339()),
            m.channel.as_str(),
            escape_markup(&m.recipient),
            escape_markup(&m.template_type),
            m.status.as_str()
        ));
        if let Some(code) = e.json["code"].as_str() {
            html.push_str(&format!(
                "<p>Code: <span class=\"code\">{}</span></p>",
                escape_markup(code)
            ));
        }
        if !text("subject").is_empty() {
            html.push_str(&format!("<h2>{}</h2>", text("subject")));
        }
        let body = e.json["body"].as_str().map(linkify).unwrap_or_default();
        html.push_str(&format!("<pre>{body}</pre></article>\n"));
    }
    html.push_str("</body></html>\n");
    html
}
