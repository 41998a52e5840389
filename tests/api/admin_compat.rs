//! Query shapes Kratos v26.2 accepts on the admin API: repeated parameters, legacy page
//! numbers on identities, courier pages of up to 1000.

use serde_json::{Value, json};

use crate::auth_support::{login_token, register_verified};
use crate::helpers::{json_with_status, spawn_app};

#[tokio::test]
async fn a_session_is_read_with_repeated_expand_parameters() {
    let app = spawn_app().await;
    let id = register_verified(&app, "expand@example.com").await;
    login_token(&app, "expand@example.com").await;
    let sessions = json_with_status(
        app.get_admin(&format!("/admin/identities/{id}/sessions"))
            .await,
        200,
    )
    .await;
    let session = sessions[0]["id"].as_str().unwrap().to_owned();
    let read = json_with_status(
        app.get_admin(&format!(
            "/admin/sessions/{session}?expand=identity&expand=devices"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(read["id"], session);
    assert_eq!(read["identity"]["id"], id, "expand=identity among others");
}

fn emails(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|i| i["traits"]["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn identities_are_served_by_legacy_page_numbers() {
    let app = spawn_app().await;
    for n in 0..5 {
        app.create_identity(
            &json!({"schema_id": "default", "traits": {"email": format!("p{n}@example.com")}}),
        )
        .await;
    }
    let all = emails(&json_with_status(app.get_admin("/admin/identities").await, 200).await);
    assert_eq!(all.len(), 5);

    let resp = app.get_admin("/admin/identities?page=1&per_page=2").await;
    assert_eq!(resp.headers()["x-total-count"], "5");
    let link = resp.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("page=2&per_page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=0&per_page=2>; rel=\"prev\""), "{link}");
    assert!(link.contains("page=2&per_page=2>; rel=\"last\""), "{link}");
    let page = emails(&json_with_status(resp, 200).await);
    assert_eq!(page, all[2..4]);
    let last = emails(
        &json_with_status(
            app.get_admin("/admin/identities?page=2&per_page=2").await,
            200,
        )
        .await,
    );
    assert_eq!(last, all[4..]);
    // page_size wins over page, as in Kratos; a page past the first 1000 items is refused.
    let keyset = json_with_status(
        app.get_admin("/admin/identities?page=1&page_size=2").await,
        200,
    )
    .await;
    assert_eq!(emails(&keyset), all[..2]);
    let far = json_with_status(
        app.get_admin("/admin/identities?page=5&per_page=250").await,
        400,
    )
    .await;
    assert!(
        far["error"]["reason"].as_str().unwrap().contains("1000"),
        "{far}"
    );
}

#[tokio::test]
async fn courier_pages_hold_up_to_1000_messages() {
    let app = spawn_app().await;
    json_with_status(
        app.get_admin("/admin/courier/messages?page_size=1000")
            .await,
        200,
    )
    .await;
    json_with_status(
        app.get_admin("/admin/courier/messages?page_size=1001")
            .await,
        400,
    )
    .await;
}
