//! `/admin/identities`: list, create, get, replace, patch, delete.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::identity_json;
use crate::http::AppState as Registry;
use crate::http::pagination::{PageQuery, link_header, seal};
use crate::http::{ApiError, method_not_allowed, now};
use crate::identity::{BatchPatch, BatchResult, Identity, IdentityInput};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/identities")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .route(web::patch().to(batch))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/identities/{id}/credentials/{type}")
            .route(web::delete().to(delete_credential))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/identities/{id}")
            .route(web::get().to(get))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed)),
    );
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

/// `include_credential` may repeat (`?include_credential=password&include_credential=oidc`).
fn included_credentials(req: &HttpRequest) -> Vec<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == "include_credential")
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[derive(Deserialize)]
struct ListQuery {
    credentials_identifier: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// The admin JSON of each identity, with the credentials asked for.
fn identities_json(reg: &Registry, identities: &[Identity], include: &[String]) -> Vec<Value> {
    let rule = reg.settings.identity.verified_rule;
    identities
        .iter()
        .map(|i| identity_json(i, &reg.urls.public, rule, include, true))
        .collect()
}

/// `&credentials_identifier=...` for the `Link` header, when the listing is filtered.
fn identifier_query(identifier: Option<&str>) -> String {
    identifier
        .map(|c| {
            let c: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
            format!("&credentials_identifier={c}")
        })
        .unwrap_or_default()
}

async fn list(reg: web::Data<Registry>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q: ListQuery = serde_urlencoded_query(&req)?;
    let (ident, include) = (
        q.credentials_identifier.as_deref(),
        included_credentials(&req),
    );
    if let Some(legacy) = q.page.legacy()? {
        return super::identities_legacy::list(&reg, &req, legacy, ident, &include).await;
    }
    let (size, after) = (q.page.size()?, q.page.after(&reg.keyring)?);
    let page = reg.identities.list(after, size, ident).await?;
    let next = page
        .has_more
        .then(|| page.identities.last().map(|i| seal(&reg.keyring, i.id)))
        .flatten();
    let base = format!("{}admin/identities", reg.urls.admin);
    let link = link_header(&base, size, next, &identifier_query(ident));
    Ok(HttpResponse::Ok()
        .insert_header((header::LINK, link))
        .json(identities_json(&reg, &page.identities, &include)))
}

/// Query strings with repeated keys (include_credential) defeat `web::Query`, so parse here.
fn serde_urlencoded_query<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "include_credential")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // No database compares a NUL in text (Postgres refuses it), and no identifier holds one.
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_request(
            "a query parameter holds a NUL character",
        ));
    }
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| {
            // Only paging parameters are numbers; an identifier such as "+4915..." must stay
            // text (u64's parser accepts a leading '+').
            let value = match k.as_str() {
                "credentials_identifier" => serde_json::Value::String(v),
                _ => v
                    .parse::<u64>()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::String(v)),
            };
            (k, value)
        })
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("The query parameters are invalid: {e}")))
}

async fn create(
    reg: web::Data<Registry>,
    body: web::Json<IdentityInput>,
) -> Result<HttpResponse, ApiError> {
    let identity = reg.identities.create(body.into_inner(), now()).await?;
    tracing::info!(identity_id = %identity.id, "identity created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("{}identities/{}", reg.urls.admin, identity.id),
        ))
        .json(identity_json(
            &identity,
            &reg.urls.public,
            reg.settings.identity.verified_rule,
            &[],
            true,
        )))
}

async fn get(
    reg: web::Data<Registry>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identity = reg.identities.get(parse_id(&path)?).await?;
    let include = included_credentials(&req);
    Ok(HttpResponse::Ok().json(identity_json(
        &identity,
        &reg.urls.public,
        reg.settings.identity.verified_rule,
        &include,
        true,
    )))
}

async fn replace(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    body: web::Json<IdentityInput>,
) -> Result<HttpResponse, ApiError> {
    let identity = reg
        .identities
        .replace(parse_id(&path)?, body.into_inner(), now())
        .await?;
    Ok(HttpResponse::Ok().json(identity_json(
        &identity,
        &reg.urls.public,
        reg.settings.identity.verified_rule,
        &[],
        true,
    )))
}

async fn patch(
    reg: web::Data<Registry>,
    path: web::Path<String>,
    body: web::Json<json_patch::Patch>,
) -> Result<HttpResponse, ApiError> {
    let identity = reg
        .identities
        .patch(parse_id(&path)?, body.into_inner(), now())
        .await?;
    Ok(HttpResponse::Ok().json(identity_json(
        &identity,
        &reg.urls.public,
        reg.settings.identity.verified_rule,
        &[],
        true,
    )))
}

async fn delete(
    reg: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reg.identities.delete(parse_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One patch's answer: `create` with the new id, `error` with its error, or `null` for a
/// patch without `create`.
fn batch_answer(patch_id: Option<uuid::Uuid>, result: BatchResult) -> Value {
    let mut a = serde_json::Map::new();
    match result {
        BatchResult::Skipped => return Value::Null,
        BatchResult::Created(i) => {
            a.insert("action".into(), json!("create"));
            a.insert("identity".into(), json!(i));
        }
        BatchResult::Failed(e) => {
            a.insert("action".into(), json!("error"));
            a.insert("error".into(), ApiError::from(e).body()["error"].take());
        }
    }
    if let Some(p) = patch_id {
        a.insert("patch_id".into(), json!(p));
    }
    Value::Object(a)
}

/// `PATCH /admin/identities`: Kratos's batch create; each patch answers on its own.
async fn batch(
    reg: web::Data<Registry>,
    body: web::Json<BatchPatch>,
) -> Result<HttpResponse, ApiError> {
    let results = reg
        .identities
        .batch_create(body.into_inner(), now())
        .await?;
    let answers: Vec<Value> = results
        .into_iter()
        .map(|(patch_id, result)| batch_answer(patch_id, result))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "identities": answers })))
}

#[derive(Deserialize)]
struct CredentialQuery {
    identifier: Option<String>,
}

/// `DELETE /admin/identities/{id}/credentials/{type}` (`?identifier=` for one social link).
async fn delete_credential(
    reg: web::Data<Registry>,
    path: web::Path<(String, String)>,
    q: web::Query<CredentialQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let (id, identifier) = (parse_id(&id)?, q.identifier.as_deref());
    reg.identities
        .delete_credential(id, &kind, identifier, now())
        .await?;
    tracing::info!(identity_id = %id, credential = %kind, "admin removed a credential");
    Ok(HttpResponse::NoContent().finish())
}
