//! The admin routes the Ory SDKs call, in Kratos v26.2's shapes: every session paged
//! (`GET /admin/sessions`), the batch create (`PATCH /admin/identities`), removing one
//! credential, and `/schemas` on the admin port.

use serde_json::{Value, json};

use crate::auth_support::{PASSWORD, login_token, register_verified};
use crate::helpers::{TestApp, json_with_status, spawn_app, spawn_postgres_with};

async fn delete_admin(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .delete(format!("{}{path}", app.admin))
        .send()
        .await
        .unwrap()
}

async fn patch_admin(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .patch(format!("{}{path}", app.admin))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn next_token(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().ok()?.to_owned();
    let next = link.split(',').find(|l| l.contains("rel=\"next\""))?;
    let start = next.find("page_token=")? + "page_token=".len();
    Some(next[start..].split(['&', '>']).next()?.to_owned())
}

async fn sessions_are_listed_in_keyset_pages(app: &TestApp) {
    let alice = register_verified(app, "alice@example.com").await;
    let bob = register_verified(app, "bob@example.com").await;
    for who in ["alice@example.com", "alice@example.com", "bob@example.com"] {
        login_token(app, who).await;
    }
    let (mut seen, mut issued) = (Vec::new(), Vec::new());
    let mut path = "/admin/sessions?page_size=2&expand=identity".to_owned();
    loop {
        let resp = app.get_admin(&path).await;
        let token = next_token(&resp);
        let page = json_with_status(resp, 200).await;
        let page = page.as_array().unwrap().clone();
        assert!(page.len() <= 2);
        for s in &page {
            assert!(s["identity"]["id"].is_string(), "expanded identity: {s}");
            seen.push((s["id"].clone(), s["identity"]["id"].clone()));
            issued.push(
                chrono::DateTime::parse_from_rfc3339(s["issued_at"].as_str().unwrap()).unwrap(),
            );
        }
        match token {
            Some(t) => path = format!("/admin/sessions?page_size=2&expand=identity&page_token={t}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "every session once: {seen:?}");
    assert!(
        issued.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {issued:?}"
    );
    assert_eq!(seen[0].1, json!(bob), "bob signed in last");
    assert_eq!(seen.iter().filter(|(_, i)| i == &json!(alice)).count(), 2);
    assert_eq!(seen.iter().filter(|(_, i)| i == &json!(bob)).count(), 1);

    let plain = json_with_status(app.get_admin("/admin/sessions").await, 200).await;
    assert!(
        plain[0].get("identity").is_none(),
        "no identity unless expanded"
    );
    let first = plain[0]["id"].as_str().unwrap();
    let ended = delete_admin(app, &format!("/admin/sessions/{first}")).await;
    assert_eq!(ended.status(), 204);
    let active = json_with_status(app.get_admin("/admin/sessions?active=true").await, 200).await;
    assert_eq!(active.as_array().unwrap().len(), 2);
    let inactive = json_with_status(app.get_admin("/admin/sessions?active=false").await, 200).await;
    assert_eq!(inactive[0]["id"], first);

    for (query, reason) in [
        ("expand=nothing", "Could not parse expand option: nothing"),
        ("active=maybe", "could not parse parameter active"),
        ("page_token=forged", "The page_token is invalid."),
        ("page_size=1001", "page_size must be between 1 and 1000"),
    ] {
        let body = json_with_status(
            app.get_admin(&format!("/admin/sessions?{query}")).await,
            400,
        )
        .await;
        assert_eq!(body["error"]["reason"], reason, "{query}");
    }
}

#[tokio::test]
async fn every_session_is_listed_in_keyset_pages_on_sqlite() {
    sessions_are_listed_in_keyset_pages(&spawn_app().await).await;
}

#[tokio::test]
async fn every_session_is_listed_in_keyset_pages_on_postgres() {
    let Some(app) = spawn_postgres_with(|s| s.selfservice.rate_limits.enabled = false).await else {
        return;
    };
    sessions_are_listed_in_keyset_pages(&app).await;
}

#[tokio::test]
async fn the_batch_create_answers_each_patch_on_its_own() {
    let app = spawn_app().await;
    app.create_identity(&json!({"traits": {"email": "taken@example.com"}}))
        .await;
    let body = json!({"identities": [
        {"patch_id": "00000000-0000-4000-8000-000000000001",
         "create": {"schema_id": "default", "traits": {"email": "new@example.com"},
                    "credentials": {"password": {"config": {"password": PASSWORD}}}}},
        {"patch_id": "00000000-0000-4000-8000-000000000002",
         "create": {"schema_id": "default", "traits": {"email": "taken@example.com"}}},
        {"create": {"schema_id": "default", "traits": {"email": 7}}},
        {"patch_id": "00000000-0000-4000-8000-000000000004"}
    ]});
    let answer = json_with_status(patch_admin(&app, "/admin/identities", &body).await, 200).await;
    let items = answer["identities"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{answer}");
    assert_eq!(items[0]["action"], "create");
    assert_eq!(items[0]["patch_id"], "00000000-0000-4000-8000-000000000001");
    let id = items[0]["identity"].as_str().unwrap();
    let made = json_with_status(app.get_admin(&format!("/admin/identities/{id}")).await, 200).await;
    assert_eq!(made["traits"]["email"], "new@example.com");
    assert_eq!(items[1]["action"], "error");
    assert_eq!(items[1]["error"]["code"], 409, "{answer}");
    assert!(items[1].get("identity").is_none());
    assert_eq!(items[2]["action"], "error");
    assert_eq!(items[2]["error"]["code"], 400, "{answer}");
    assert!(items[2].get("patch_id").is_none());
    assert!(items[3].is_null(), "a patch without create: {answer}");

    let unknown = json!({"identities": [{"delete": {"id": id}}]});
    json_with_status(patch_admin(&app, "/admin/identities", &unknown).await, 400).await;
    let many: Vec<Value> = (0..201)
        .map(|n| json!({"create": {"traits": {"email": format!("p{n}@example.com")},
                                    "credentials": {"password": {"config": {"password": PASSWORD}}}}}))
        .collect();
    let refused = json_with_status(
        patch_admin(&app, "/admin/identities", &json!({"identities": many})).await,
        400,
    )
    .await;
    assert_eq!(
        refused["error"]["reason"],
        "The maximum number of identities per request that can be created with a plaintext password is 200."
    );
    let all = json_with_status(app.get_admin("/admin/identities").await, 200).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "nothing of the refused batch was created"
    );
}

#[tokio::test]
async fn one_credential_is_removed_as_kratos_removes_it() {
    let app = spawn_app().await;
    let both = app
        .create_identity(
            &json!({"traits": {"email": "both@example.com"}, "credentials": {
            "password": {"config": {"password": PASSWORD}},
            "oidc": {"config": {"providers": [{"provider": "acme", "subject": "s-1"}]}}}}),
        )
        .await;
    let id = both["id"].as_str().unwrap();
    let path = |rest: &str| format!("/admin/identities/{id}/credentials/{rest}");
    let missing = json_with_status(delete_admin(&app, &path("totp")).await, 404).await;
    assert_eq!(
        missing["error"]["reason"],
        "You tried to remove a totp but this user have no totp set up."
    );
    let no_identifier = json_with_status(delete_admin(&app, &path("oidc")).await, 400).await;
    assert_eq!(
        no_identifier["error"]["reason"],
        "You must provide an identifier to delete this credential."
    );
    json_with_status(
        delete_admin(&app, &path("oidc?identifier=acme:other")).await,
        404,
    )
    .await;
    assert_eq!(delete_admin(&app, &path("password")).await.status(), 204);
    let after = json_with_status(
        app.get_admin(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(
        after["credentials"]["password"]["config"],
        json!({}),
        "{after}"
    );
    let last = json_with_status(
        delete_admin(&app, &path("oidc?identifier=acme:s-1")).await,
        400,
    )
    .await;
    assert_eq!(
        last["error"]["reason"],
        "You cannot remove the last first factor credential."
    );
    // The password is gone: signing in with it fails.
    let flow: Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let login = app
        .http
        .post(format!(
            "{}/self-service/login?flow={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .json(
            &json!({"method": "password", "identifier": "both@example.com", "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 400);
    json_with_status(
        delete_admin(
            &app,
            "/admin/identities/00000000-0000-4000-8000-000000000000/credentials/password",
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn the_admin_port_sends_schema_reads_to_the_public_port() {
    let app = spawn_app().await;
    for path in ["/schemas", "/admin/schemas", "/schemas/ZGVmYXVsdA?x=1"] {
        let resp = app.get_admin(path).await;
        assert_eq!(resp.status(), 307, "{path}");
        let public_path = path.trim_start_matches("/admin");
        assert_eq!(
            resp.headers()["location"],
            format!("{}{public_path}", app.public).as_str()
        );
    }
    let resp = app
        .http
        .post(format!("{}/schemas", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
}
