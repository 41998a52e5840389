use serde_json::{Value, json};

use crate::helpers::{TestApp, json_with_status, spawn_app, spawn_postgres_with};

fn alice() -> Value {
    json!({
        "schema_id": "default",
        "traits": {"email": "Alice@Example.com", "name": {"first": "Alice"}},
        "metadata_public": {"plan": "free"},
        "metadata_admin": {"note": "vip"},
        "credentials": {"password": {"config": {"password": "a long and unusual passphrase"}}}
    })
}

async fn roundtrip(app: &TestApp) {
    let created = app.create_identity(&alice()).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["schema_id"], "default");
    assert!(
        created["schema_url"]
            .as_str()
            .unwrap()
            .ends_with("/schemas/ZGVmYXVsdA")
    );
    assert_eq!(created["state"], "active");
    assert_eq!(
        created["traits"]["email"], "Alice@Example.com",
        "traits are stored as given"
    );
    assert_eq!(created["metadata_public"], json!({"plan": "free"}));
    assert_eq!(created["metadata_admin"], json!({"note": "vip"}));
    let addr = &created["verifiable_addresses"][0];
    assert_eq!(
        addr["value"], "alice@example.com",
        "addresses are normalised"
    );
    assert_eq!(addr["via"], "email");
    assert_eq!(addr["status"], "pending");
    assert_eq!(addr["verified"], false);
    assert!(addr.get("verified_at").is_none());
    assert_eq!(
        created["recovery_addresses"][0]["value"],
        "alice@example.com"
    );
    let password = &created["credentials"]["password"];
    assert_eq!(password["identifiers"], json!(["alice@example.com"]));
    assert!(
        password.get("config").is_none(),
        "config only with include_credential"
    );

    let fetched =
        json_with_status(app.get_admin(&format!("/admin/identities/{id}")).await, 200).await;
    assert_eq!(fetched, created, "GET returns what POST returned");
    let with_hash = json_with_status(
        app.get_admin(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await,
        200,
    )
    .await;
    let hash = with_hash["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn identity_round_trips_as_kratos_json_on_sqlite() {
    roundtrip(&spawn_app().await).await;
}

#[tokio::test]
async fn identity_round_trips_as_kratos_json_on_postgres() {
    if let Some(app) = spawn_postgres_with(|_| {}).await {
        roundtrip(&app).await;
    }
}

#[tokio::test]
async fn unprefixed_admin_paths_work_like_kratos() {
    let app = spawn_app().await;
    let created = app.create_identity(&alice()).await;
    let id = created["id"].as_str().unwrap();
    json_with_status(app.get_admin(&format!("/identities/{id}")).await, 200).await;
}

#[tokio::test]
async fn location_header_points_at_the_new_identity() {
    let app = spawn_app().await;
    let resp = app.post_admin("/admin/identities", &alice()).await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body = json_with_status(resp, 201).await;
    assert_eq!(
        location,
        format!("{}/identities/{}", app.admin, body["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn list_pages_with_link_header_and_filters_by_identifier() {
    let app = spawn_app().await;
    for n in 0..5 {
        app.create_identity(
            &json!({"schema_id": "default", "traits": {"email": format!("user{n}@example.com")}}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut url = format!("{}/admin/identities?page_size=2", app.admin);
    loop {
        let resp = app.http.get(&url).send().await.unwrap();
        let link = resp.headers()["link"].to_str().unwrap().to_owned();
        let page = json_with_status(resp, 200).await;
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = link.split(',').find(|p| p.contains("rel=\"next\"")) else {
            break;
        };
        url = next[next.find('<').unwrap() + 1..next.find('>').unwrap()].to_owned();
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5, "no identity repeats across pages");

    let filtered = json_with_status(
        app.get_admin("/admin/identities?credentials_identifier=USER3@example.com")
            .await,
        200,
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["traits"]["email"], "user3@example.com");
}

#[tokio::test]
async fn a_phone_number_identifier_filters_as_text() {
    let app = spawn_app().await;
    let created = app
        .post_admin(
            "/admin/identities",
            &serde_json::json!({"schema_id": "phone", "traits": {"phone": "+49 151 12345678"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let filtered = json_with_status(
        app.get_admin("/admin/identities?credentials_identifier=%2B4915112345678")
            .await,
        200,
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1, "{filtered}");
}

#[tokio::test]
async fn forged_page_token_is_refused() {
    let app = spawn_app().await;
    let body = json_with_status(
        app.get_admin("/admin/identities?page_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await,
        400,
    )
    .await;
    assert_eq!(body["error"]["reason"], "The page_token is invalid.");
}

#[tokio::test]
async fn put_replaces_traits_and_keeps_the_state_of_unchanged_addresses() {
    let app = spawn_app().await;
    let mut body = alice();
    body["verifiable_addresses"] = json!([{"value": "alice@example.com", "via": "email", "verified": true, "status": "completed"}]);
    let created = app.create_identity(&body).await;
    assert_eq!(
        created["verifiable_addresses"][0]["verified"], true,
        "import can verify"
    );
    let id = created["id"].as_str().unwrap();
    let resp = app
        .http
        .put(format!("{}/admin/identities/{id}", app.admin))
        .json(&json!({"schema_id": "default", "traits": {"email": "alice@example.com", "name": {"first": "Al"}}, "state": "inactive"}))
        .send()
        .await
        .unwrap();
    let updated = json_with_status(resp, 200).await;
    assert_eq!(updated["traits"]["name"]["first"], "Al");
    assert_eq!(updated["state"], "inactive");
    assert!(updated["state_changed_at"].is_string());
    assert_eq!(updated["verifiable_addresses"][0]["verified"], true);
    assert_eq!(
        updated["verifiable_addresses"][0]["id"],
        created["verifiable_addresses"][0]["id"]
    );

    // A new email replaces the old address with an unverified one.
    let resp = app
        .http
        .put(format!("{}/admin/identities/{id}", app.admin))
        .json(&json!({"schema_id": "default", "traits": {"email": "new@example.com"}}))
        .send()
        .await
        .unwrap();
    let updated = json_with_status(resp, 200).await;
    assert_eq!(updated["verifiable_addresses"].as_array().unwrap().len(), 1);
    assert_eq!(
        updated["verifiable_addresses"][0]["value"],
        "new@example.com"
    );
    assert_eq!(updated["verifiable_addresses"][0]["verified"], false);
    assert_eq!(
        updated["credentials"]["password"]["identifiers"],
        json!(["new@example.com"])
    );
}

#[tokio::test]
async fn json_patch_can_mark_an_address_verified() {
    let app = spawn_app().await;
    let created = app.create_identity(&alice()).await;
    let id = created["id"].as_str().unwrap();
    let patch = json!([
        {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
        {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"},
        {"op": "add", "path": "/metadata_public/plan", "value": "pro"}
    ]);
    let resp = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .header("content-type", "application/json-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    let patched = json_with_status(resp, 200).await;
    assert_eq!(patched["verifiable_addresses"][0]["verified"], true);
    assert!(patched["verifiable_addresses"][0]["verified_at"].is_string());
    assert_eq!(patched["metadata_public"]["plan"], "pro");

    let bad =
        json!([{"op": "replace", "path": "/id", "value": "00000000-0000-0000-0000-000000000000"}]);
    let resp = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .json(&bad)
        .send()
        .await
        .unwrap();
    json_with_status(resp, 400).await;
    let bad = json!([{"op": "remove", "path": "/no/such/path"}]);
    let resp = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .json(&bad)
        .send()
        .await
        .unwrap();
    json_with_status(resp, 400).await;
}

#[tokio::test]
async fn delete_then_404() {
    let app = spawn_app().await;
    let created = app.create_identity(&alice()).await;
    let url = format!(
        "{}/admin/identities/{}",
        app.admin,
        created["id"].as_str().unwrap()
    );
    assert_eq!(app.http.delete(&url).send().await.unwrap().status(), 204);
    let body = json_with_status(app.http.get(&url).send().await.unwrap(), 404).await;
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(app.http.delete(&url).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn phone_traits_are_stored_in_e164() {
    let app = spawn_app().await;
    let created = app
        .create_identity(&json!({"schema_id": "phone", "traits": {"phone": "+49 151 1234 5678"}}))
        .await;
    assert_eq!(
        created["verifiable_addresses"][0]["value"],
        "+4915112345678"
    );
    assert_eq!(created["verifiable_addresses"][0]["via"], "sms");
    let resp = app
        .post_admin(
            "/admin/identities",
            &json!({"schema_id": "phone", "traits": {"phone": "12"}}),
        )
        .await;
    let body = json_with_status(resp, 400).await;
    assert_eq!(
        body["error"]["details"]["errors"][0]["pointer"],
        "#/traits/phone"
    );
    assert_eq!(body["error"]["details"]["errors"][0]["rule"], "format:tel");
}

#[tokio::test]
async fn every_bad_input_gets_a_kratos_error() {
    let app = spawn_app().await;
    let url = format!("{}/admin/identities", app.admin);
    let send = |ct: &'static str, body: String| {
        let req = app.http.post(&url).header("content-type", ct).body(body);
        async move { req.send().await.unwrap() }
    };
    // (status, content type, body, why)
    let cases: Vec<(u16, &str, String, &str)> = vec![
        (
            400,
            "application/json",
            "{\"traits\": ".into(),
            "truncated JSON",
        ),
        (
            400,
            "application/json",
            "{\"traits\": {},}".into(),
            "trailing comma",
        ),
        (400, "application/json", "[".repeat(10_000), "deep nesting"),
        (
            400,
            "application/json",
            "{\"schema_id\": 5, \"traits\": {}}".into(),
            "wrong type",
        ),
        (
            400,
            "application/json",
            "{\"schema_id\": \"default\"}".into(),
            "missing traits",
        ),
        (415, "text/plain", "{}".into(), "wrong content type"),
        (
            413,
            "application/json",
            format!(
                "{{\"traits\": {{\"x\": \"{}\"}}}}",
                "a".repeat(2 * 1024 * 1024)
            ),
            "body over the limit",
        ),
        (
            400,
            "application/json",
            "{\"schema_id\": \"nope\", \"traits\": {}}".into(),
            "unknown schema",
        ),
    ];
    for (status, ct, body, why) in cases {
        let resp = send(ct, body).await;
        assert_eq!(resp.status().as_u16(), status, "{why}");
        let json: Value = resp
            .json()
            .await
            .unwrap_or_else(|_| panic!("{why}: body is not JSON"));
        assert_eq!(json["error"]["code"], status, "{why}");
        assert!(json["error"]["message"].is_string(), "{why}");
    }
}

#[tokio::test]
async fn trait_validation_names_pointer_and_rule() {
    let app = spawn_app().await;
    let resp = app
        .post_admin(
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {"email": "not-an-email"}}),
        )
        .await;
    let body = json_with_status(resp, 400).await;
    let reason = body["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("#/traits/email"), "{reason}");
    assert_eq!(
        body["error"]["details"]["errors"][0]["rule"],
        "format:email"
    );
    let resp = app
        .post_admin(
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {}}),
        )
        .await;
    let body = json_with_status(resp, 400).await;
    assert_eq!(body["error"]["details"]["errors"][0]["rule"], "required");
}

#[tokio::test]
async fn unknown_or_malformed_ids_are_404() {
    let app = spawn_app().await;
    for id in ["5a0a2b3c-0000-4000-8000-000000000000", "not-a-uuid"] {
        let body =
            json_with_status(app.get_admin(&format!("/admin/identities/{id}")).await, 404).await;
        assert_eq!(body["error"]["message"], "Unable to locate the resource");
    }
}

#[tokio::test]
async fn duplicate_identifier_is_409_and_writes_nothing() {
    let app = spawn_app().await;
    app.create_identity(&alice()).await;
    let mut dup = alice();
    dup["traits"]["email"] = json!("  ALICE@example.com");
    dup["traits"]["email"] = json!("ALICE@example.com");
    let body = json_with_status(app.post_admin("/admin/identities", &dup).await, 409).await;
    assert_eq!(
        body["error"]["reason"],
        "This identity conflicts with another identity that already exists."
    );
    let all = json_with_status(app.get_admin("/admin/identities").await, 200).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "the refused identity left no rows behind"
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_email_make_one_identity() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let req = app
            .http
            .post(format!("{}/admin/identities", app.admin))
            .json(&json!({"schema_id": "default", "traits": {"email": "race@example.com"}}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}
