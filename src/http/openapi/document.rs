//! Builds the OpenAPI 3.1 document from the route table and the component schemas.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use super::routes::{self, Body, Op, Reply};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut paths = Map::new();
    for op in routes::all() {
        let entry = paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object");
        entry.insert(op.method.to_lowercase(), operation(op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Verity",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Verity's public API (port 4433: the `public` tag) and admin API \
                (port 4434: the `admin` tag). Routes Verity shares with Ory Kratos have Kratos's \
                paths and shapes. The admin port also answers every `/admin/...` route without \
                the prefix. A path's other methods answer 405 with `Allow`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [
            {"url": "http://127.0.0.1:4433", "description": "public"},
            {"url": "http://127.0.0.1:4434", "description": "admin"}
        ],
        "tags": [
            {"name": "public", "description": "Served on the public port"},
            {"name": "admin", "description": "Served on the admin port; keep it private"}
        ],
        "paths": paths,
        "components": {
            "schemas": super::schemas::all(),
            "securitySchemes": {
                "apiKeyPair": {"type": "http", "scheme": "basic",
                    "description": "A partner API key (user) and secret (password)"},
                "sessionToken": {"type": "apiKey", "in": "header", "name": "X-Session-Token"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "ory_kratos_session"}
            }
        }
    })
}

fn operation(op: &Op) -> Value {
    let mut params: Vec<Value> = path_params(op.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(op.query.iter().map(|q| query_param(q, op)));
    let mut responses = Map::new();
    for (status, reply) in op.replies {
        responses.insert(status.to_string(), response(*reply));
    }
    responses.insert("default".into(), error_response(op));
    let mut out = json!({
        "operationId": op.id,
        "summary": op.summary,
        "tags": op.api.tags(),
        "parameters": params,
        "responses": responses,
    });
    if let Some(body) = request_body(op.body) {
        out["requestBody"] = body;
    }
    if op.path.starts_with("/fraud/") {
        out["security"] = json!([{"apiKeyPair": []}]);
    }
    if op.any_method {
        out["description"] = json!("Every method is answered the same way.");
    }
    if op.pending {
        out["x-verity-pending"] = json!(true);
    }
    out
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The query parameters the routes share, by name.
fn query_param(name: &str, op: &Op) -> Value {
    let submit = op.method == "POST" && op.path.starts_with("/self-service/");
    let (schema, required) = match name {
        "flow" => (json!({"type": "string"}), submit),
        "id" => (json!({"type": "string"}), true),
        "page_size" => (
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            false,
        ),
        "per_page" => (
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            false,
        ),
        "page" => (json!({"type": "integer", "minimum": 0}), false),
        "active" => (json!({"type": "boolean"}), false),
        "include_credential" => (
            json!({"type": "array", "items": {"type": "string", "enum": ["password", "oidc", "code"]}}),
            false,
        ),
        "expand" => (
            json!({"type": "array", "items": {"type": "string", "enum": ["identity", "devices"]}}),
            false,
        ),
        "status" => (
            json!({"type": "string", "enum": ["queued", "processing", "sent", "abandoned", "expired"]}),
            false,
        ),
        _ => (json!({"type": "string"}), false),
    };
    let mut p = json!({"name": name, "in": "query", "required": required, "schema": schema});
    if p["schema"]["type"] == "array" {
        p["style"] = json!("form");
        p["explode"] = json!(true);
    }
    p
}

fn request_body(body: Body) -> Option<Value> {
    let schema = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
    Some(match body {
        Body::None => return None,
        Body::Json(s) => {
            json!({"required": true, "content": {"application/json": {"schema": schema(s)}}})
        }
        Body::JsonOrForm(s) => json!({"required": true, "content": {
            "application/json": {"schema": schema(s)},
            "application/x-www-form-urlencoded": {"schema": schema(s)}
        }}),
        Body::JsonPatch => json!({"required": true, "content": {
            "application/json": {"schema": schema("jsonPatchDocument")}
        }}),
    })
}

fn response(reply: Reply) -> Value {
    let schema = |s: &str| json!({"$ref": format!("#/components/schemas/{s}")});
    match reply {
        Reply::Json(s) => {
            json!({"description": s, "content": {"application/json": {"schema": schema(s)}}})
        }
        Reply::List(s) => json!({"description": format!("a list of {s}"), "content": {
            "application/json": {"schema": {"type": "array", "items": schema(s)}}}}),
        Reply::Html => {
            json!({"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}})
        }
        Reply::Text(ct) => {
            json!({"description": ct, "content": {ct: {"schema": {"type": "string"}}}})
        }
        Reply::Empty => json!({"description": "no content"}),
        Reply::Redirect => json!({"description": "a redirect", "headers": {
            "Location": {"schema": {"type": "string"}}}}),
    }
}

/// Errors are Kratos's JSON envelope; a self-service flow may answer 400 with the flow itself
/// (its messages say what to fix), and browsers get pages or redirects.
fn error_response(op: &Op) -> Value {
    let envelope = json!({"$ref": "#/components/schemas/errorGeneric"});
    let json_schema = if op.path.starts_with("/self-service/") || op.path.starts_with("/ui") {
        json!({"anyOf": [envelope, {"$ref": "#/components/schemas/flow"}]})
    } else {
        envelope
    };
    json!({"description": "an error", "content": {
        "application/json": {"schema": json_schema},
        "text/html": {"schema": {"type": "string"}}
    }})
}
