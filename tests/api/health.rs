use crate::helpers::{json_with_status, spawn_app};

#[tokio::test]
async fn health_and_version_answer_on_both_ports() {
    let app = spawn_app().await;
    for base in [&app.public, &app.admin] {
        for path in ["/health/alive", "/health/ready"] {
            let body = json_with_status(
                app.http.get(format!("{base}{path}")).send().await.unwrap(),
                200,
            )
            .await;
            assert_eq!(body["status"], "ok", "{base}{path}");
        }
        let body = json_with_status(
            app.http
                .get(format!("{base}/version"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn unknown_routes_get_kratos_404_json() {
    let app = spawn_app().await;
    let body = json_with_status(
        app.http
            .get(format!("{}/nope", app.public))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(body["error"]["status"], "Not Found");
}

#[tokio::test]
async fn schemas_are_listed_and_fetched_by_base64_id() {
    let app = spawn_app().await;
    let list = json_with_status(
        app.http
            .get(format!("{}/schemas", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"default") && ids.contains(&"phone"),
        "{ids:?}"
    );
    // "default" in base64url without padding, as identities' schema_url shows it.
    let schema = json_with_status(
        app.http
            .get(format!("{}/schemas/ZGVmYXVsdA", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(schema["properties"]["traits"].is_object());
    json_with_status(
        app.http
            .get(format!("{}/schemas/bm9wZQ", app.public))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn requests_get_503_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    // Closing the pool makes every query fail as an unreachable database would.
    let url = format!("{}/health/ready", app.admin);
    app.store().close().await;
    let resp = app.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let resp = app
        .http
        .get(format!("{}/admin/identities", app.admin))
        .send()
        .await
        .unwrap();
    let body = json_with_status(resp, 503).await;
    assert_eq!(body["error"]["code"], 503);
}

#[tokio::test]
async fn admin_port_redirects_self_service_paths_to_public() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!(
            "{}/self-service/verification/api?return_to=x",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("{}/self-service/verification/api?return_to=x", app.public)
    );
}
