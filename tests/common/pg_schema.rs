//! A scratch Postgres schema per test, shared by the test binaries (`#[path]`-included).

/// `TEST_DATABASE_URL`, or `None` after a loud skip notice; under CI a missing URL fails.
pub fn test_database_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok() => {
            panic!("CI is set but TEST_DATABASE_URL is not: the Postgres tests must run in CI")
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: TEST_DATABASE_URL is not set, so this Postgres test did not run ***\n"
            );
            None
        }
    }
}

/// Creates a fresh schema and returns its name.
pub async fn create(url: &str, prefix: &str) -> String {
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("connect TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    schema
}

/// Best effort, from a `Drop`: removes the schema on a thread with its own runtime.
pub fn drop_blocking(url: String, schema: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            // One connection, so the lock timeout applies to the DROP: never wait forever on a
            // lock a broken test left behind.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .ok()?;
            sqlx::query("SET lock_timeout = '5s'")
                .execute(&pool)
                .await
                .ok()?;
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .ok()?;
            pool.close().await;
            Some(())
        })
    })
    .join();
}
