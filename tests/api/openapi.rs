//! The OpenAPI document (`GET /openapi.json`) cannot drift from the routers.
//!
//! The routers register routes in many modules, so the test asks the routers themselves:
//! each port's real route configuration runs in an actix test service whose fallback marks
//! its answers. Then (1) every documented operation is routed (answered by anything but the
//! fallback or a resource's 405), (2) every other standard method on a documented path is not,
//! and (3) every route pattern the router holds (read from its resource map) is a documented
//! path, directly or as the un-prefixed alias of an `/admin/...` path on the admin port. With
//! no application state the handlers answer 500 or similar; only *who* answers matters here.

use std::collections::BTreeSet;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use serde_json::Value;
use verity::http::openapi::{Api, routes};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const UNROUTED: &str = "x-test-unrouted";

async fn fallback(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((UNROUTED, "1"))
        .body(format!("{:?}", req.resource_map()))
}

/// A concrete path for a template: each parameter becomes a UUID.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                "00000000-0000-4000-8000-000000000000"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn routed(res: &ServiceResponse) -> bool {
    !res.headers().contains_key(UNROUTED) && res.status() != 405
}

/// Every `patterns: Single("...")` of the resource map's debug form.
fn patterns(debug: &str) -> BTreeSet<String> {
    assert!(
        !debug.contains("patterns: List("),
        "multi-pattern resources need this test extended"
    );
    debug
        .split("patterns: Single(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("\")").map(|(p, _)| p.to_owned()))
        .filter(|p| !p.is_empty())
        .collect()
}

async fn check_port(port: Api, configure: fn(&mut web::ServiceConfig)) -> Vec<String> {
    let app = test::init_service(
        App::new()
            .app_data(port)
            .configure(configure)
            .default_service(web::to(fallback)),
    )
    .await;
    let call = |method: &str, path: String| {
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&path)
            .to_request();
        app.call(req)
    };
    let mut problems = Vec::new();
    let documented: Vec<_> = routes::all().filter(|o| o.api.serves(port)).collect();
    for op in &documented {
        let res = call(op.method, concrete(op.path)).await.unwrap();
        match (routed(&res), op.pending) {
            (false, false) => problems.push(format!(
                "{port:?}: {} {} is documented but not routed",
                op.method, op.path
            )),
            (true, true) => println!(
                "note: {} {} is routed now; drop its pending mark",
                op.method, op.path
            ),
            _ => {}
        }
    }
    let paths: BTreeSet<_> = documented.iter().map(|o| o.path).collect();
    for path in &paths {
        let ops: Vec<_> = documented.iter().filter(|o| o.path == *path).collect();
        if ops.iter().any(|o| o.any_method) {
            continue;
        }
        for method in METHODS
            .iter()
            .filter(|m| !ops.iter().any(|o| o.method == **m))
        {
            // Another template may take the concrete path (`DELETE /sessions/{id}` serves
            // `DELETE /sessions/whoami`); that route is documented.
            let concrete_path = concrete(path);
            if documented
                .iter()
                .any(|o| o.method == *method && routes::matches(o.path, &concrete_path))
            {
                continue;
            }
            let res = call(method, concrete_path).await.unwrap();
            if routed(&res) {
                problems.push(format!(
                    "{port:?}: {method} {path} is routed but not documented"
                ));
            }
        }
    }
    let res = call("GET", "/__no_such_route__".into()).await.unwrap();
    let map = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let found = patterns(&map);
    for path in &paths {
        let relative = path.strip_prefix("/admin").filter(|_| port == Api::Admin);
        assert!(
            found.contains(*path)
                || relative.is_some_and(|r| found.contains(r))
                || documented.iter().any(|o| o.path == *path && o.pending),
            "the resource map parser missed {path}: {found:?}"
        );
    }
    for pattern in found.iter().filter(|p| *p != "/admin") {
        let alias = (port == Api::Admin).then(|| routes::admin_alias(pattern));
        if !paths.contains(pattern.as_str()) && !alias.is_some_and(|a| paths.contains(a.as_str())) {
            problems.push(format!("{port:?}: the route {pattern} is not documented"));
        }
    }
    problems
}

#[actix_web::test]
async fn the_document_lists_exactly_the_routes_of_both_ports() {
    let mut problems = check_port(Api::Public, verity::http::public).await;
    problems.extend(check_port(Api::Admin, verity::http::admin).await);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_admin_port_serves_a_valid_openapi_31_document() {
    let app = crate::helpers::spawn_app().await;
    let doc: Value = app.get_admin("/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.contains_key("/self-service/verification/api")
            && paths.contains_key("/admin/identities")
    );
    // Every reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }
}

#[tokio::test]
async fn unserved_methods_answer_405_with_allow() {
    let app = crate::helpers::spawn_app().await;
    for (base, method, path, allow) in [
        (&app.public, "PUT", "/self-service/verification/api", "GET"),
        (&app.public, "TRACE", "/sessions", "DELETE, GET"),
        (&app.public, "DELETE", "/fraud/send-sms", "POST"),
        (
            &app.admin,
            "POST",
            "/admin/identities/00000000-0000-4000-8000-000000000000",
            "DELETE, GET, PATCH, PUT",
        ),
        // PATCH is the batch create.
        (&app.admin, "DELETE", "/identities", "GET, PATCH, POST"),
    ] {
        let res = app
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], 405);
    }
    let res = app
        .http
        .put(format!("{}/no/such/path", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// `docs/openapi.json` is the served document, for readers of the repository and for client
/// generators; `VERITY_UPDATE_OPENAPI=1 cargo test --test api openapi::` rewrites it.
#[tokio::test]
async fn the_committed_document_is_the_served_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let current = serde_json::to_string_pretty(verity::http::openapi::document()).unwrap() + "\n";
    if std::env::var("VERITY_UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == current,
        "docs/openapi.json is out of date: run VERITY_UPDATE_OPENAPI=1 cargo test --test api openapi::"
    );
}
