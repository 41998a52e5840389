//! The built-in pages in a real headless Chromium: sign-up, verification by code, link and
//! SMS, login, the home page, settings. The server runs as with `--dev` (plain HTTP cookies).

use std::time::Duration;

use serde_json::{Value, json};
use verity::config::GoDuration;
use verity::config::VerificationStrategy;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::browser_support::{Browser, with_browser};
use crate::helpers::{TestApp, json_with_status, spawn_app, spawn_with};
use crate::verification_support::{inbox_code, inbox_link, wait_messages};

const PASSWORD: &str = "a-Long-and-unusual-passphrase-71";

fn home(app: &TestApp) -> String {
    format!("{}/ui/", app.public)
}

/// `/self-service/<kind>/browser` coming back to the home page of this server (the bundled
/// config's default return URL names the `--dev` port).
fn start_url(app: &TestApp, kind: &str) -> String {
    let back: String = url::form_urlencoded::byte_serialize(home(app).as_bytes()).collect();
    format!(
        "{}/self-service/{kind}/browser?return_to={back}",
        app.public
    )
}

/// Signs up with `field` = `address` and lands on the verification page.
async fn sign_up(b: &Browser, app: &TestApp, field: &str, address: &str) {
    b.goto(&start_url(app, "registration")).await;
    b.wait_for_path("/ui/registration").await;
    b.fill(&format!("traits.{field}"), address).await;
    b.fill("password", PASSWORD).await;
    b.press("password").await;
    b.wait_for_path("/ui/verification").await;
}

async fn enter_code(b: &Browser, code: &str) {
    b.fill("code", code).await;
    b.press("code").await;
}

async fn log_in(b: &Browser, app: &TestApp, identifier: &str) {
    b.goto(&start_url(app, "login")).await;
    b.wait_for_path("/ui/login").await;
    b.fill("identifier", identifier).await;
    b.fill("password", PASSWORD).await;
    b.press("password").await;
}

/// The identity with this address, through the admin API.
async fn identity(app: &TestApp, address: &str) -> Value {
    let list = json_with_status(app.get_admin("/admin/identities").await, 200).await;
    let found: Vec<&Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| {
            i["verifiable_addresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["value"] == address))
        })
        .collect();
    assert_eq!(found.len(), 1, "{address} in {list}");
    found[0].clone()
}

async fn address_verified(app: &TestApp, address: &str) -> bool {
    let i = identity(app, address).await;
    let a = i["verifiable_addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["value"] == address)
        .unwrap_or_else(|| panic!("{address} in {i}"))
        .clone();
    a["verified"] == true
}

#[tokio::test]
async fn browser_signs_up_and_verifies_with_the_emailed_code() {
    let app = spawn_app().await;
    with_browser(
        "browser_signs_up_and_verifies_with_the_emailed_code",
        |b| async move {
            let email = "e2e-code@example.com";
            sign_up(&b, &app, "email", email).await;
            b.wait_for_text("We sent a code to e***@example.com").await;
            assert!(!address_verified(&app, email).await);
            let code = inbox_code(&app, email).await;
            enter_code(&b, &code).await;
            b.wait_for_text("You successfully verified your email address.")
                .await;
            assert!(address_verified(&app, email).await);
        },
    )
    .await;
}

#[tokio::test]
async fn login_is_refused_until_the_address_is_verified() {
    let app = spawn_app().await;
    with_browser(
        "login_is_refused_until_the_address_is_verified",
        |b| async move {
            let email = "e2e-login@example.com";
            sign_up(&b, &app, "email", email).await;
            wait_messages(&app, email, 1).await;

            // Not verified: the login shows the verification page of the code sign-up sent,
            // which still waits (it used to mail a fresh code on every sign-in).
            log_in(&b, &app, email).await;
            b.wait_for_path("/ui/verification").await;
            b.wait_for_text("We sent a code to e***@example.com").await;
            let messages = wait_messages(&app, email, 1).await;
            assert_eq!(messages.len(), 1, "no second code while the first is valid");
            let code = messages[0]["code"].as_str().expect("code").to_owned();
            b.goto(&home(&app)).await;
            assert!(
                b.client
                    .find(fantoccini::Locator::Css("#signed-in"))
                    .await
                    .is_err(),
                "no session yet"
            );
            b.client.back().await.expect("back");
            b.wait_for_path("/ui/verification").await;
            enter_code(&b, &code).await;
            b.wait_for_text("You successfully verified your email address.")
                .await;

            log_in(&b, &app, email).await;
            b.wait_for_path("/ui/").await;
            let text = b.wait_for_text("You are signed in.").await;
            assert!(text.contains(email), "{text}");
            assert!(text.contains("Your account is verified."), "{text}");
            assert_eq!(
                b.find(".address-verified .address-value")
                    .await
                    .text()
                    .await
                    .unwrap(),
                email
            );

            // Signing out ends the session and comes back home, signed out.
            b.click("#link-logout").await;
            b.wait_for_path("/ui/").await;
            b.find("#link-login").await;
            assert!(!b.text().await.contains(email));
        },
    )
    .await;
}

#[tokio::test]
async fn the_emailed_link_verifies_in_the_browser() {
    let app = spawn_with(|s| {
        s.selfservice.flows.verification.strategy = VerificationStrategy::Link;
        s.selfservice.methods.link.enabled = true;
    })
    .await;
    with_browser("the_emailed_link_verifies_in_the_browser", |b| async move {
        let email = "e2e-link@example.com";
        sign_up(&b, &app, "email", email).await;
        b.wait_for_text("We sent a link to e***@example.com").await;
        let (flow, token) = inbox_link(&app, email).await;
        b.goto(&format!(
            "{}/self-service/verification?flow={flow}&token={token}",
            app.public
        ))
        .await;
        b.wait_for_path("/ui/verification").await;
        b.wait_for_text("You successfully verified your email address.")
            .await;
        assert!(address_verified(&app, email).await);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_code_is_explained_on_the_page() {
    let app = spawn_app().await;
    with_browser("a_wrong_code_is_explained_on_the_page", |b| async move {
        let email = "e2e-wrong@example.com";
        sign_up(&b, &app, "email", email).await;
        let code = inbox_code(&app, email).await;
        let wrong = if code == "111111" { "222222" } else { "111111" };
        enter_code(&b, wrong).await;
        b.wait_for_text(
            "The verification code is invalid or has already been used. Please try again.",
        )
        .await;
        assert!(!address_verified(&app, email).await);
        // The right code still works afterwards.
        enter_code(&b, &code).await;
        b.wait_for_text("You successfully verified your email address.")
            .await;
    })
    .await;
}

#[tokio::test]
async fn an_expired_registration_flow_starts_again() {
    let app =
        spawn_with(|s| s.selfservice.flows.registration.lifespan = GoDuration::from_secs(1)).await;
    with_browser(
        "an_expired_registration_flow_starts_again",
        |b| async move {
            b.goto(&start_url(&app, "registration")).await;
            let first = b.wait_for_path("/ui/registration").await;
            b.fill("traits.email", "e2e-expired@example.com").await;
            b.fill("password", PASSWORD).await;
            // Not a timed assertion: the flow must merely be older than its lifespan.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            b.press("password").await;
            let text = b.wait_for_text("expired").await;
            let now = b.wait_for_path("/ui/registration").await;
            assert_ne!(now.query(), first.query(), "a new flow");
            assert!(text.contains("The registration flow expired"), "{text}");
            b.find("input[name=\"traits.email\"]").await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_phone_number_signs_up_with_the_sms_code() {
    let gateway = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&gateway)
        .await;
    // The gateway gets `{to, text}`; the body is a jsonnet snippet, passed base64-encoded.
    let body = "function(ctx) { to: ctx.recipient, text: ctx.body }";
    use base64::Engine;
    let channels = json!([{"id": "sms", "type": "http", "request_config": {
        "url": format!("{}/sms", gateway.uri()), "method": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": format!("base64://{}", base64::engine::general_purpose::STANDARD.encode(body))}}]);
    let app = spawn_with(|s| {
        s.identity.default_schema_id = "phone".into();
        s.courier.channels = serde_json::from_value(channels).unwrap();
        s.courier.worker.pull_wait = GoDuration::from_millis(50);
    })
    .await;
    let gateway = &gateway;
    with_browser(
        "a_phone_number_signs_up_with_the_sms_code",
        |b| async move {
            let number = "+4915112345699";
            sign_up(&b, &app, "phone", number).await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let sms: Value = loop {
                let got = gateway.received_requests().await.unwrap();
                if let Some(r) = got.first() {
                    break serde_json::from_slice(&r.body).unwrap();
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the gateway got no SMS"
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            };
            assert_eq!(sms["to"], number);
            let code: String = sms["text"]
                .as_str()
                .unwrap()
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a 6-digit code in the SMS")
                .to_owned();
            enter_code(&b, &code).await;
            b.wait_for_text("You successfully verified your phone number.")
                .await;
            assert!(address_verified(&app, number).await);
        },
    )
    .await;
}

#[tokio::test]
async fn changing_the_email_in_settings_verifies_it_again() {
    let app = spawn_app().await;
    with_browser(
        "changing_the_email_in_settings_verifies_it_again",
        |b| async move {
            let old = "e2e-settings@example.com";
            let new = "e2e-settings-new@example.com";
            sign_up(&b, &app, "email", old).await;
            enter_code(&b, &inbox_code(&app, old).await).await;
            b.wait_for_text("You successfully verified your email address.")
                .await;
            log_in(&b, &app, old).await;
            b.wait_for_path("/ui/").await;
            b.click("#link-settings").await;
            b.wait_for_path("/ui/settings").await;
            b.fill("traits.email", new).await;
            b.press("profile").await;

            // Saved; the browser is sent on to verify the new address, which got a code.
            b.wait_for_path("/ui/verification").await;
            b.wait_for_text("We sent a code to e***@example.com").await;
            let code = inbox_code(&app, new).await;
            assert!(!address_verified(&app, new).await);
            let verification = b.url().await;
            b.goto(&home(&app)).await;
            let text = b.wait_for_text("You are signed in.").await;
            assert!(text.contains("Your account is not verified yet."), "{text}");
            assert_eq!(
                b.find(".address-pending .address-value")
                    .await
                    .text()
                    .await
                    .unwrap(),
                new
            );

            b.goto(verification.as_str()).await;
            enter_code(&b, &code).await;
            b.wait_for_text("You successfully verified your email address.")
                .await;
            assert!(address_verified(&app, new).await);
            b.goto(&home(&app)).await;
            let text = b.wait_for_text("Your account is verified.").await;
            assert!(!text.contains(old), "the old address is gone: {text}");
        },
    )
    .await;
}
