//! One address normaliser for every path (issue 15.10): an IDN address typed as U-labels or
//! as A-labels is one address, whether it comes through the schema or the verification form.

use serde_json::json;

use crate::helpers::{json_with_status, spawn_app};
use crate::verification_support::outbox_all;

#[tokio::test]
async fn u_labels_and_a_labels_are_one_address_on_the_schema_and_the_form_path() {
    let app = spawn_app().await;
    // The schema path accepts the U-label and stores the A-label form.
    let created = app
        .create_identity(&json!({"schema_id": "default", "traits": {"email": "Kim@Bücher.DE"}}))
        .await;
    let stored = created["verifiable_addresses"][0]["value"]
        .as_str()
        .unwrap();
    assert_eq!(stored, "kim@xn--bcher-kva.de", "{created}");
    // The A-label form is the same address: a second identity with it conflicts.
    let again = app
        .post_admin(
            "/admin/identities",
            &json!({"schema_id": "default", "traits": {"email": "kim@xn--bcher-kva.de"}}),
        )
        .await;
    json_with_status(again, 409).await;
    // The verification form finds it by either spelling and sends to the stored form.
    for typed in ["kim@bücher.de", "KIM@XN--BCHER-KVA.DE"] {
        let action = crate::security_http::verification_action(&app).await;
        let sent = app
            .http
            .post(&action)
            .header("accept", "application/json")
            .json(&json!({"method": "code", "email": typed}))
            .send()
            .await
            .unwrap();
        json_with_status(sent, 200).await;
    }
    let messages = outbox_all(&app).await;
    assert_eq!(
        messages.len(),
        2,
        "both spellings reached the known address"
    );
    for m in &messages {
        assert_eq!(m["recipient"], "kim@xn--bcher-kva.de", "{m}");
    }
}
