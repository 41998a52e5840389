//! `GET /metrics` on the admin port: Prometheus text with requests by route template, the
//! courier's backlog computed at scrape time, the database pool and the password hasher. The
//! registry is process-wide (see `verity::metrics`), so assertions are about this test's own
//! series and lower bounds, never exact totals.

use serde_json::json;

use crate::helpers::{TestApp, spawn_postgres_with, spawn_with};
use crate::multinode::{api_flow, submit};

#[tokio::test]
async fn metrics_show_routes_by_template_the_backlog_and_the_pool() {
    // No worker: the code's message stays queued, so the backlog gauges have something to show.
    shows_routes_backlog_and_pool(spawn_with(|s| s.courier.worker.enabled = false).await).await;
}

#[tokio::test]
async fn metrics_read_the_backlog_from_postgres() {
    let Some(app) = spawn_postgres_with(|s| s.courier.worker.enabled = false).await else {
        return;
    };
    shows_routes_backlog_and_pool(app).await;
}

async fn shows_routes_backlog_and_pool(app: TestApp) {
    let email = "metrics-backlog@example.com";
    app.create_identity(&json!({"schema_id": "default", "traits": {"email": email},
        "credentials": {"password": {"config": {"password": "a long unusual passphrase 42"}}}}))
        .await;
    let unknown = uuid::Uuid::new_v4();
    let missing = app.get_admin(&format!("/admin/identities/{unknown}")).await;
    assert_eq!(missing.status(), 404);
    let flow = api_flow(&app.http, &app.public).await;
    let (status, _) = submit(
        &app.http,
        &app.public,
        &flow,
        json!({"method": "code", "email": email}),
    )
    .await;
    assert_eq!(status, 200);

    let scrape = app.get_admin("/metrics").await;
    assert_eq!(scrape.status(), 200);
    let content_type = scrape.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = scrape.text().await.unwrap();

    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(
        has(
            r#"verity_http_requests_total{api="admin",method="GET",route="/admin/identities/{id}",status="404"}"#
        ),
        "requests are counted by route template: {text}"
    );
    assert!(has(
        r#"verity_http_request_duration_seconds_bucket{api="public",method="POST",route="/self-service/verification""#
    ));
    assert!(
        has(r#"verity_courier_queue_depth{channel="email"} 1"#),
        "{text}"
    );
    assert!(has(
        r#"verity_courier_oldest_queued_age_seconds{channel="email"}"#
    ));
    assert!(
        has(r#"verity_db_pool_connections{state="idle"}"#)
            && has("verity_db_pool_max_connections ")
    );
    assert!(
        has("verity_db_up 1") && has("verity_hash_in_flight"),
        "{text}"
    );
    assert!(has("# HELP verity_http_requests_total HTTP requests"));
    // No label carries an id, an address or a code.
    for secret in [unknown.to_string(), email.to_owned(), flow.clone()] {
        assert!(!text.contains(&secret), "{secret} appears in /metrics");
    }
    // Kratos's path serves the same text; the public port has no metrics.
    assert_eq!(app.get_admin("/metrics/prometheus").await.status(), 200);
    let public = app
        .http
        .get(format!("{}/metrics", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
}
