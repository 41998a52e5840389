//! One-time codes under concurrency and at rest, on SQLite and, with
//! TEST_DATABASE_URL, on Postgres.

use futures_util::future::join_all;
use serde_json::Value;
use verity::config::{Settings, VerificationStrategy};
use verity::persistence::Store;

use crate::helpers::{TestApp, spawn_postgres_with, spawn_with};
use crate::verification_support::*;

/// Postgres with the in-server courier worker off (the dev inbox lists queued messages
/// anyway): a worker caught inside a transaction when the test's runtime stops would hold a
/// lock that the harness's `DROP SCHEMA` then waits on for ever.
async fn spawn_pg(tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    spawn_postgres_with(|s| {
        s.courier.worker.enabled = false;
        tweak(s);
    })
    .await
}

/// No rate limits: these tests hammer one flow from one IP on purpose.
fn unlimited(s: &mut Settings) {
    s.selfservice.rate_limits.enabled = false;
}

async fn sent_api_flow(app: &TestApp, email: &str) -> (String, Value, String) {
    let identity = create_email_identity(app, email).await;
    let c = Client::new(Kind::Api);
    let flow = c.init(app).await;
    let reply = c.send_code(app, &flow, email).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    (identity, reply.body, inbox_code(app, email).await)
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

async fn one_correct_code_fifty_times(app: TestApp) {
    let email = "race@example.com";
    let (identity, flow, code) = sent_api_flow(&app, email).await;
    let c = Client::new(Kind::Api);
    let replies = join_all((0..50).map(|_| c.use_code(&app, &flow, &code))).await;
    let mut passed = 0;
    for r in &replies {
        match r.status {
            200 if r.body["state"] == "passed_challenge" => passed += 1,
            200 => assert_eq!(message_ids(&r.body), [4070006], "{r:?}"),
            410 => assert_eq!(r.error_id(), Some("self_service_flow_replaced"), "{r:?}"),
            _ => panic!("unexpected answer {r:?}"),
        }
    }
    assert_eq!(passed, 1, "exactly one submission verifies");
    let used = scalar(
        app.store(),
        "SELECT COUNT(*) FROM selfservice_flow_challenges WHERE used_at IS NOT NULL",
    )
    .await;
    assert_eq!(used, 1, "one used_at");
    let flow = c.flow(&app, flow["id"].as_str().unwrap()).await;
    assert_eq!(flow["state"], "passed_challenge");
    assert_verified(&app, &identity).await;
}

async fn a_hundred_parallel_wrong_guesses(app: TestApp) {
    let max = app
        .registry
        .settings
        .selfservice
        .methods
        .code
        .config
        .max_submissions as usize;
    let email = "guess@example.com";
    let (identity, flow, code) = sent_api_flow(&app, email).await;
    let c = Client::new(Kind::Api);
    // 100 distinct wrong codes.
    let guesses: Vec<String> = (0..100u32)
        .map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000))
        .collect();
    let replies = join_all(guesses.iter().map(|g| c.use_code(&app, &flow, g))).await;
    let mut evaluated = 0;
    for r in &replies {
        match r.status {
            200 => {
                assert_eq!(message_ids(&r.body), [4070006], "{r:?}");
                evaluated += 1;
            }
            410 => assert_eq!(r.error_id(), Some("self_service_flow_replaced"), "{r:?}"),
            _ => panic!("unexpected answer {r:?}"),
        }
    }
    assert!(
        evaluated <= max,
        "{evaluated} guesses were evaluated, max_submissions is {max}"
    );
    assert!(evaluated >= 1);
    // The budget is spent: the right code no longer works on this flow.
    let reply = c.use_code(&app, &flow, &code).await;
    assert_eq!(reply.status, 410, "{reply:?}");
    assert_not_verified(&app, &identity).await;
}

/// The right code among wrong guesses, all at once: the flow ends passed and stays passed
/// (no late wrong guess writes its older state over it).
async fn a_finished_flow_stays_finished(app: TestApp) {
    let email = "mixed@example.com";
    let (identity, flow, code) = sent_api_flow(&app, email).await;
    let c = Client::new(Kind::Api);
    let bad = wrong(&code);
    let guesses = (0..30).map(|i| if i == 5 { code.as_str() } else { bad.as_str() });
    let replies = join_all(guesses.map(|g| c.use_code(&app, &flow, g))).await;
    let passed = replies
        .iter()
        .filter(|r| r.status == 200 && r.body["state"] == "passed_challenge")
        .count();
    for r in &replies {
        assert!(matches!(r.status, 200 | 410), "{r:?}");
    }
    assert_eq!(passed, 1, "{replies:?}");
    assert_verified(&app, &identity).await;
    let after = c.flow(&app, flow["id"].as_str().unwrap()).await;
    assert_eq!(after["state"], "passed_challenge", "{after}");
    assert_eq!(message_ids(&after), [1080002]);

    // A resend racing the right code: whichever wins, a passed flow stays passed.
    for i in 0..10 {
        let email = format!("race-resend-{i}@example.com");
        let (_, flow, code) = sent_api_flow(&app, &email).await;
        let (used, _) = tokio::join!(
            c.use_code(&app, &flow, &code),
            c.send_code(&app, &flow, &email)
        );
        let after = c.flow(&app, flow["id"].as_str().unwrap()).await;
        if used.body["state"] == "passed_challenge" {
            assert_eq!(after["state"], "passed_challenge", "round {i}: {after}");
        }
    }
}

fn many_tries(s: &mut Settings) {
    unlimited(s);
    s.selfservice.methods.code.config.max_submissions = 100;
    s.selfservice.methods.code.config.max_resends = 100;
}

#[tokio::test]
async fn a_finished_flow_stays_finished_under_concurrent_submissions_sqlite() {
    for _ in 0..3 {
        a_finished_flow_stays_finished(spawn_with(many_tries).await).await;
    }
}

#[tokio::test]
async fn a_finished_flow_stays_finished_under_concurrent_submissions_postgres() {
    for _ in 0..3 {
        if let Some(app) = spawn_pg(many_tries).await {
            a_finished_flow_stays_finished(app).await;
        }
    }
}

#[tokio::test]
async fn fifty_concurrent_submissions_of_the_right_code_verify_once_sqlite() {
    one_correct_code_fifty_times(spawn_with(unlimited).await).await;
}

#[tokio::test]
async fn fifty_concurrent_submissions_of_the_right_code_verify_once_postgres() {
    if let Some(app) = spawn_pg(unlimited).await {
        one_correct_code_fifty_times(app).await;
    }
}

#[tokio::test]
async fn parallel_wrong_guesses_never_exceed_max_submissions_sqlite() {
    a_hundred_parallel_wrong_guesses(spawn_with(unlimited).await).await;
}

#[tokio::test]
async fn parallel_wrong_guesses_never_exceed_max_submissions_postgres() {
    if let Some(app) = spawn_pg(unlimited).await {
        a_hundred_parallel_wrong_guesses(app).await;
    }
}

/// Every text or binary value of every table, as bytes.
async fn dump(store: &Store) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match store {
        Store::Sqlite(p) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(p)
                    .await
                    .unwrap();
            for t in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{t}')"
                )))
                .fetch_all(p)
                .await
                .unwrap();
                for col in columns {
                    let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(
                        format!("SELECT CAST(\"{col}\" AS BLOB) FROM \"{t}\""),
                    ))
                    .fetch_all(p)
                    .await
                    .unwrap();
                    out.extend(
                        values
                            .into_iter()
                            .flatten()
                            .map(|v| (format!("{t}.{col}"), v)),
                    );
                }
            }
        }
        Store::Postgres(p) => {
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema()",
            )
            .fetch_all(p)
            .await
            .unwrap();
            for (t, col, ty) in columns {
                let expr = if ty == "bytea" {
                    format!("encode(\"{col}\", 'escape')")
                } else {
                    format!("\"{col}\"::text")
                };
                let values: Vec<Option<String>> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM \"{t}\"")))
                        .fetch_all(p)
                        .await
                        .unwrap();
                out.extend(
                    values
                        .into_iter()
                        .flatten()
                        .map(|v| (format!("{t}.{col}"), v.into_bytes())),
                );
            }
        }
    }
    out
}

fn assert_absent(dump: &[(String, Vec<u8>)], secret: &str) {
    assert!(!dump.is_empty());
    let needle = secret.as_bytes();
    for (column, value) in dump {
        assert!(
            !value.windows(needle.len()).any(|w| w == needle),
            "{column} holds the secret {secret}"
        );
    }
}

async fn codes_are_not_stored_in_plaintext(app: TestApp) {
    let c = Client::new(Kind::Browser);
    let mut secrets = Vec::new();
    for email in ["dump-a@example.com", "dump-b@example.com"] {
        create_email_identity(&app, email).await;
        let flow = c.init(&app).await;
        let reply = c.send_code(&app, &flow, email).await;
        let flow = c.resolve(&app, &reply).await;
        secrets.push(inbox_code(&app, email).await);
        // A resend: both codes ever sent must be absent.
        c.send_code(&app, &flow, email).await;
        secrets.push(
            wait_messages(&app, email, 2).await[0]["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let phone = "+4915112345600";
    create_phone_identity(&app, phone).await;
    let flow = c.init(&app).await;
    c.send_code(&app, &flow, phone).await;
    secrets.push(inbox_code(&app, phone).await);
    let dump = dump(app.store()).await;
    for s in &secrets {
        assert_absent(&dump, s);
    }
}

async fn link_tokens_are_not_stored_in_plaintext(app: TestApp) {
    let c = Client::new(Kind::Api);
    let email = "dump-link@example.com";
    create_email_identity(&app, email).await;
    let flow = c.init(&app).await;
    let reply = c
        .submit(&app, &flow, &[("method", "link"), ("email", email)])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (_, token) = inbox_link(&app, email).await;
    assert_absent(&dump(app.store()).await, &token);
}

fn link(s: &mut Settings) {
    s.selfservice.flows.verification.strategy = VerificationStrategy::Link;
    s.selfservice.methods.link.enabled = true;
}

#[tokio::test]
async fn a_database_dump_holds_no_code_or_token_sqlite() {
    codes_are_not_stored_in_plaintext(spawn_with(|_| {}).await).await;
    link_tokens_are_not_stored_in_plaintext(spawn_with(link).await).await;
}

#[tokio::test]
async fn a_database_dump_holds_no_code_or_token_postgres() {
    if let Some(app) = spawn_pg(|_| {}).await {
        codes_are_not_stored_in_plaintext(app).await;
    }
    if let Some(app) = spawn_pg(link).await {
        link_tokens_are_not_stored_in_plaintext(app).await;
    }
}

/// Twenty resends of one flow at once: no error, at most the flow's send budget of messages,
/// and one code left that works (each resend invalidates the one before).
async fn twenty_parallel_resends(app: TestApp) {
    let max = app
        .registry
        .settings
        .selfservice
        .methods
        .code
        .config
        .max_resends as usize;
    let email = "resends@example.com";
    let (identity, flow, _first) = sent_api_flow(&app, email).await;
    let c = Client::new(Kind::Api);
    let replies = join_all((0..20).map(|_| c.send_code(&app, &flow, email))).await;
    for r in &replies {
        assert!(
            r.status == 200 || r.status == 410,
            "a resend answers the flow or its replacement: {r:?}"
        );
    }
    let sent = outbox(&app, email).await.len();
    assert!(sent <= max, "{sent} messages for a budget of {max}");
    let active = scalar(
        app.store(),
        "SELECT COUNT(*) FROM selfservice_flow_challenges WHERE used_at IS NULL",
    )
    .await;
    assert_eq!(active, 1, "one live code");
    let newest = inbox_code(&app, email).await;
    let r = c.use_code(&app, &flow, &newest).await;
    assert_eq!(r.body["state"], "passed_challenge", "{r:?}");
    assert_verified(&app, &identity).await;
}

#[tokio::test]
async fn twenty_parallel_resends_stay_within_the_budget_sqlite() {
    twenty_parallel_resends(spawn_with(unlimited).await).await;
}

#[tokio::test]
async fn twenty_parallel_resends_stay_within_the_budget_postgres() {
    if let Some(app) = spawn_pg(unlimited).await {
        twenty_parallel_resends(app).await;
    }
}
