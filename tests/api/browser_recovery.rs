//! The built-in pages for recovery, sign-in by code and the first-run fixes of issue 13, in
//! a real headless Chromium (skipped loudly without one; required under CI).

use serde_json::json;

use crate::browser_support::{Browser, with_browser};
use crate::helpers::{TestApp, spawn_with};
use crate::recovery_support::password_works;
use crate::verification_support::{inbox, wait_messages};

const PASSWORD: &str = "a-Long-and-unusual-passphrase-71";
const NEW_PASSWORD: &str = "another-Long-passphrase-for-recovery-9";

/// `/self-service/<kind>/browser` coming back to this server's home page.
fn start_url(app: &TestApp, kind: &str) -> String {
    let home = format!("{}/ui/", app.public);
    let back: String = url::form_urlencoded::byte_serialize(home.as_bytes()).collect();
    format!(
        "{}/self-service/{kind}/browser?return_to={back}",
        app.public
    )
}

async fn verified_owner(app: &TestApp, email: &str) {
    let body = json!({"schema_id": "default", "traits": {"email": email, "name": {"first": "Ada"}},
        "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
        "credentials": {"password": {"config": {"password": PASSWORD}}}});
    app.create_identity(&body).await;
}

async fn newest_code(app: &TestApp, to: &str, n: usize) -> String {
    wait_messages(app, to, n).await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn js(b: &Browser, script: &str) -> serde_json::Value {
    b.client.execute(script, vec![]).await.expect("script")
}

#[tokio::test]
async fn forgot_password_code_new_password_signed_in() {
    let app = spawn_with(|_| {}).await;
    with_browser(
        "forgot_password_code_new_password_signed_in",
        |b| async move {
            let email = "forgetful@example.com";
            verified_owner(&app, email).await;
            // Without a return_to the settings flow shows what was saved.
            b.goto(&format!("{}/self-service/login/browser", app.public))
                .await;
            b.wait_for_path("/ui/login").await;
            b.click("#link-recovery").await;
            b.wait_for_path("/ui/recovery").await;
            b.wait_for_text("we will send you a code").await;
            b.fill("email", email).await;
            b.press("code").await;
            let text = b.wait_for_text("We sent a code to f***@example.com").await;
            assert!(
                !text.contains("An email containing a recovery code"),
                "said once: {text}"
            );
            let input = b.find("input[name=\"code\"]").await;
            assert_eq!(
                input.attr("inputmode").await.unwrap().as_deref(),
                Some("numeric")
            );
            assert_eq!(
                input.attr("autocomplete").await.unwrap().as_deref(),
                Some("one-time-code")
            );
            b.fill("code", &newest_code(&app, email, 1).await).await;
            b.press("code").await;
            b.wait_for_path("/ui/settings").await;
            let text = b.wait_for_text("You recovered your account").await;
            assert!(
                text.contains("Your details") && text.contains("New password"),
                "{text}"
            );
            b.fill("password", NEW_PASSWORD).await;
            b.press("password").await;
            b.wait_for_text("Your new password was saved.").await;
            b.goto(&format!("{}/ui/", app.public)).await;
            b.wait_for_text("You are signed in.").await;
            assert!(password_works(&app, email, NEW_PASSWORD).await);
            assert!(!password_works(&app, email, PASSWORD).await);
        },
    )
    .await;
}

#[tokio::test]
async fn sign_in_by_code_in_the_browser() {
    let app = spawn_with(crate::login_code::passwordless).await;
    with_browser("sign_in_by_code_in_the_browser", |b| async move {
        let email = "by-code-page@example.com";
        verified_owner(&app, email).await;
        b.goto(&start_url(&app, "login")).await;
        b.wait_for_path("/ui/login").await;
        let label = b
            .find("label[for$=\"-identifier\"]")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(label, "E-Mail", "the identifier's schema title, not \"ID\"");
        b.fill("identifier", email).await;
        b.click("button[name=\"method\"][value=\"code\"]").await;
        b.wait_for_text("We sent a code to b***@example.com").await;
        let first = newest_code(&app, email, 1).await;
        b.click("button[name=\"resend\"]").await;
        b.wait_for_text("A new code was sent at").await;
        let second = newest_code(&app, email, 2).await;
        assert_ne!(first, second);
        b.fill("code", &second).await;
        b.press("code").await;
        b.wait_for_path("/ui/").await;
        b.wait_for_text("You are signed in.").await;
    })
    .await;
}

#[tokio::test]
async fn the_first_run_walk_through_is_obvious() {
    let app = spawn_with(|_| {}).await;
    with_browser("the_first_run_walk_through_is_obvious", |b| async move {
        // `/` sends a browser to the pages.
        b.goto(&format!("{}/", app.public)).await;
        b.wait_for_path("/ui/").await;

        // Sign up, then sign in before verifying: the page says why it asks for a code.
        let email = "first-run@example.com";
        b.goto(&start_url(&app, "registration")).await;
        b.wait_for_path("/ui/registration").await;
        b.fill("traits.email", "First-Run@Example.com").await;
        b.fill("password", PASSWORD).await;
        b.press("password").await;
        b.wait_for_path("/ui/verification").await;
        let text = b.wait_for_text("We sent a code to f***@example.com").await;
        assert!(
            !text.contains("An email containing a verification code"),
            "{text}"
        );
        b.find("#link-restart").await;
        b.goto(&start_url(&app, "login")).await;
        b.wait_for_path("/ui/login").await;
        b.fill("identifier", email).await;
        b.fill("password", PASSWORD).await;
        b.press("password").await;
        b.wait_for_path("/ui/verification").await;
        b.wait_for_text("Verify your address to finish signing in.")
            .await;

        // The dev inbox: links are clickable and there is a way back.
        let here = b.url().await;
        b.click("a.dev").await;
        b.wait_for_path("/admin/dev/inbox").await;
        b.find("article a[href*=\"/self-service/verification?\"]")
            .await;
        b.click("#back").await;
        b.wait_for_path("/ui/verification").await;
        assert_eq!(b.url().await, here);

        // Resend says when; the code verifies; signed out, the next step is signing in.
        b.click("button[name=\"email\"]").await;
        b.wait_for_text("A new code was sent at").await;
        b.fill("code", &newest_code(&app, email, 2).await).await;
        b.press("code").await;
        b.wait_for_text("Sign in to continue.").await;
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#link-restart"))
                .await
                .is_err(),
            "nothing to restart after success"
        );
        let next = b
            .find("a[id$=\"-continue\"]")
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(
            next.starts_with(&format!("{}/self-service/login/browser", app.public)),
            "{next}"
        );
        b.goto(&start_url(&app, "login")).await;
        b.wait_for_path("/ui/login").await;
        let login_width = js(
            &b,
            "return document.querySelector('button[name=method]').offsetWidth",
        )
        .await;
        b.fill("identifier", email).await;
        b.fill("password", PASSWORD).await;
        b.press("password").await;
        b.wait_for_path("/ui/").await;
        let text = b.wait_for_text("You are signed in.").await;
        assert!(text.contains("first-run@example.com"), "{text}");
        assert!(
            !text.contains("First-Run@Example.com"),
            "no address as typed: {text}"
        );
        assert!(!text.contains("\nemail\n"), "no raw trait key: {text}");

        // Settings: two sections, each with its own heading and button.
        b.click("#link-settings").await;
        b.wait_for_path("/ui/settings").await;
        let text = b.wait_for_text("Your details").await;
        assert!(
            text.contains("Save details") && text.contains("Save new password"),
            "{text}"
        );
        let settings_width = js(
            &b,
            "return document.querySelector('button[name=method]').offsetWidth",
        )
        .await;
        assert_eq!(
            login_width, settings_width,
            "one button width on every page"
        );
        assert!(inbox(&app, email).await.len() >= 2);
    })
    .await;
}
