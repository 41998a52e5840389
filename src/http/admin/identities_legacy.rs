//! `GET /admin/identities?page=N&per_page=M`: Kratos's legacy page numbers, which Kratos
//! v26.2 still serves next to keyset pages. Only the first 1000 identities can be reached this
//! way (see `PageQuery::legacy`), so a page is read as one keyset read from the start.

use actix_web::{HttpRequest, HttpResponse};

use super::identity_json;
use crate::http::ApiError;
use crate::http::AppState as Registry;
use crate::http::pagination::LegacyPage;

pub(super) async fn list(
    reg: &Registry,
    req: &HttpRequest,
    page: LegacyPage,
    identifier: Option<&str>,
    include: &[String],
) -> Result<HttpResponse, ApiError> {
    let read = reg
        .identities
        .list(None, page.offset() + page.per_page, identifier)
        .await?;
    // Filtered by identifier there is at most one match; otherwise the table is counted.
    let total = match identifier {
        Some(_) => read.identities.len() as u64,
        None => reg.identities.count().await?,
    };
    let shown = &read.identities[(page.offset() as usize).min(read.identities.len())..];
    let rule = reg.settings.identity.verified_rule;
    let body: Vec<_> = shown
        .iter()
        .map(|i| identity_json(i, &reg.urls.public, rule, include, true))
        .collect();
    let base = format!("{}admin/identities", reg.urls.admin);
    Ok(HttpResponse::Ok()
        .insert_header(("link", page.link_header(&base, &other_params(req), total)))
        .insert_header(("x-total-count", total.to_string()))
        .json(body))
}

/// The query's other parameters, kept in every `Link`.
fn other_params(req: &HttpRequest) -> String {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| !matches!(k.as_ref(), "page" | "per_page"))
        .map(|(k, v)| {
            let mut pair = url::form_urlencoded::Serializer::new(String::from("&"));
            pair.append_pair(&k, &v);
            pair.finish()
        })
        .collect()
}
