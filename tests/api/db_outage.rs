//! A real database outage: Postgres refuses connections, requests get 503, and the server
//! recovers by itself when the database is back.

use serde_json::json;

use crate::helpers::{json_with_status, postgres_url, spawn_with};

#[tokio::test]
async fn requests_get_503_during_a_postgres_outage_and_recover_after() {
    let Some(url) = postgres_url() else { return };
    // A database of its own, so refusing its connections disturbs no other test.
    let db = format!("outage_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    let mut target = url::Url::parse(&url).unwrap();
    target.set_path(&format!("/{db}"));
    let target = target.to_string();
    let app = spawn_with(|s| {
        s.dsn = verity::config::Sensitive::new(target.clone());
        s.courier.worker.enabled = false;
    })
    .await;
    app.create_identity(&json!({"schema_id": "default", "traits": {"email": "up@example.com"}}))
        .await;

    let block = |allow: bool| {
        let (admin, db) = (admin.clone(), db.clone());
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {db} ALLOW_CONNECTIONS {allow}"
            )))
            .execute(&admin)
            .await
            .unwrap();
            if !allow {
                let kill = format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
                );
                sqlx::query(sqlx::AssertSqlSafe(kill))
                    .execute(&admin)
                    .await
                    .unwrap();
            }
        }
    };
    block(false).await;
    let down = app.get_admin("/admin/identities").await;
    let body = json_with_status(down, 503).await;
    assert_eq!(body["error"]["code"], 503);
    assert_eq!(app.get_admin("/health/ready").await.status(), 503);
    let refused = app
        .post_admin(
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {"email": "lost@example.com"}}),
        )
        .await;
    assert_eq!(refused.status(), 503);

    block(true).await;
    let mut recovered = false;
    for _ in 0..50 {
        if app.get_admin("/health/ready").await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server reconnects by itself");
    let list = json_with_status(app.get_admin("/admin/identities").await, 200).await;
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["traits"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["up@example.com"],
        "nothing half-written from the refused request"
    );
    app.create_identity(&json!({"schema_id": "default", "traits": {"email": "after@example.com"}}))
        .await;

    drop(app);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
