//! The built-in browser pages under `/ui/`, driven like a browser without JavaScript: no JSON
//! `Accept`, form posts, one cookie jar, redirects followed by hand.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use serde_json::Value;

use crate::helpers::{TempDir, TestApp, json_with_status, spawn_app, spawn_with};
use crate::verification_support::{create_email_identity, form, inbox_code, jar};

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The value of the first `attr="..."` after `marker` in `html`, unescaped.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let rest = &html[start..];
    let key = format!("{attr}=\"");
    let from = rest
        .find(&key)
        .unwrap_or_else(|| panic!("{attr} after {marker}"))
        + key.len();
    let value = &rest[from..from + rest[from..].find('"').unwrap()];
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Self {
        Self { http: jar() }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("GET")
    }

    /// Starts a flow and returns the page URL the server redirects to.
    async fn start(&self, app: &TestApp) -> String {
        let resp = self
            .get(&format!("{}/self-service/verification/browser", app.public))
            .await;
        assert_eq!(resp.status(), 303);
        let to = location(&resp);
        assert!(
            to.starts_with(&format!("{}/ui/verification?flow=", app.public)),
            "{to}"
        );
        to
    }

    /// A page that must answer 200 HTML.
    async fn page(&self, url: &str) -> String {
        let resp = self.get(url).await;
        assert_eq!(resp.status(), 200, "{url}");
        let ct = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{ct}");
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
        resp.text().await.unwrap()
    }

    /// Submits the page's form with `fields` plus its hidden fields; returns the 303 target.
    async fn submit(&self, html: &str, fields: &[(&str, &str)]) -> String {
        let action = attr_after(html, "<form", "action");
        assert_eq!(attr_after(html, "<form", "method"), "post");
        let csrf = attr_after(html, r#"name="csrf_token""#, "value");
        let mut all = fields.to_vec();
        all.push(("csrf_token", &csrf));
        let resp = self
            .http
            .post(&action)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&all))
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), 303, "{action}");
        location(&resp)
    }
}

#[tokio::test]
async fn a_browser_verifies_an_address_through_the_pages() {
    let app = spawn_app().await;
    let email = "ui-person@example.com";
    create_email_identity(&app, email).await;
    let b = Browser::new();
    let page_url = b.start(&app).await;
    let flow_id = page_url.rsplit('=').next().unwrap().to_owned();

    let html = b.page(&page_url).await;
    assert_eq!(
        attr_after(&html, "<form", "action"),
        format!("{}/self-service/verification?flow={flow_id}", app.public)
    );
    assert!(
        html.contains(r#"<input type="hidden" name="csrf_token" value=""#),
        "{html}"
    );
    // The label depends on whether phone numbers are accepted (they are in --dev).
    assert!(html.contains(r#"<label for="n0-email">Email"#), "{html}");
    assert!(
        html.contains(r#"id="n0-email" name="email" required"#),
        "{html}"
    );
    assert!(html.contains("/admin/dev/inbox"), "--dev links the inbox");

    let next = b
        .submit(&html, &[("method", "code"), ("email", email)])
        .await;
    assert_eq!(next, page_url, "back to the same page");
    let html = b.page(&next).await;
    assert!(
        html.contains("We sent a code to u***@example.com."),
        "{html}"
    );
    assert!(
        html.contains(r#"name="code""#) && html.contains("Resend code"),
        "{html}"
    );
    assert!(
        html.contains(r#"name="email" value="ui-person@example.com" class="button" formnovalidate>Resend code</button>"#),
        "the resend button carries the address: {html}"
    );

    // "Resend code" as a browser sends it: every field of the form plus the clicked button.
    let first = inbox_code(&app, email).await;
    let next = b
        .submit(&html, &[("method", "code"), ("code", ""), ("email", email)])
        .await;
    assert_eq!(next, page_url);
    let html = b.page(&next).await;
    assert!(
        html.contains("We sent a code to u***@example.com."),
        "{html}"
    );
    let messages = crate::verification_support::wait_messages(&app, email, 2).await;
    let code = messages[0]["code"].as_str().unwrap().to_owned();
    assert_ne!(code, first, "a new code");

    let next = b
        .submit(&html, &[("method", "code"), ("code", &code)])
        .await;
    let html = b.page(&next).await;
    assert!(
        html.contains("You successfully verified your email address."),
        "{html}"
    );
    // Signed out, Continue leads to the sign-in (which then goes where Continue went): the
    // page says signing in is next (issue 13, changed on purpose).
    let continue_to = &app.registry.settings.selfservice.default_browser_return_url;
    assert_eq!(
        attr_after(&html, r#"id="n1-continue""#, "href"),
        login_then(&app, continue_to)
    );
    assert!(html.contains(">Sign in</a>"), "{html}");
    assert!(html.contains("Sign in to continue"), "{html}");
    assert!(
        !html.contains("csrf_token"),
        "no token in a GET form: {html}"
    );
}

#[tokio::test]
async fn unknown_missing_and_foreign_flows_restart() {
    let app = spawn_app().await;
    let restart = format!("{}/self-service/verification/browser", app.public);
    let b = Browser::new();
    for query in [
        format!("?flow={}", uuid::Uuid::new_v4()),
        "?flow=not-a-uuid".to_owned(),
        String::new(),
    ] {
        let resp = b
            .get(&format!("{}/ui/verification{query}", app.public))
            .await;
        assert_eq!(resp.status(), 303, "{query}");
        assert_eq!(location(&resp), restart);
    }
    let return_to = format!("{}/after", app.public);
    let resp = b
        .get(&format!(
            "{}/ui/verification?return_to={}",
            app.public,
            crate::verification_support::enc(&return_to)
        ))
        .await;
    assert_eq!(
        location(&resp),
        format!(
            "{restart}?return_to={}",
            crate::verification_support::enc(&return_to)
        )
    );
    // Another browser's flow is not shown. (A browser with no cookie at all opening a flow
    // started a moment ago gets the cookie error page instead: `ui_cookies`.)
    let page = b.start(&app).await;
    let stranger = Browser::new();
    stranger.start(&app).await;
    let resp = stranger.get(&page).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), restart);
}

#[tokio::test]
async fn success_can_redirect_elsewhere() {
    let target = "https://app.example.com/welcome";
    let app = spawn_with(|s| s.ui.success_redirects.verification = Some(target.into())).await;
    let email = "ui-redirect@example.com";
    create_email_identity(&app, email).await;
    let b = Browser::new();
    let page_url = b.start(&app).await;
    let html = b.page(&page_url).await;
    let next = b
        .submit(&html, &[("method", "code"), ("email", email)])
        .await;
    let html = b.page(&next).await;
    let code = inbox_code(&app, email).await;
    let next = b
        .submit(&html, &[("method", "code"), ("code", &code)])
        .await;
    let resp = b.get(&next).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), target);
}

#[tokio::test]
async fn a_flows_return_to_wins_over_the_success_redirect() {
    let target = "https://app.example.com/welcome";
    let app = spawn_with(|s| s.ui.success_redirects.verification = Some(target.into())).await;
    let email = "ui-return-to@example.com";
    create_email_identity(&app, email).await;
    let b = Browser::new();
    let return_to = format!("{}/after", app.public);
    let resp = b
        .get(&format!(
            "{}/self-service/verification/browser?return_to={}",
            app.public,
            crate::verification_support::enc(&return_to)
        ))
        .await;
    assert_eq!(resp.status(), 303);
    let page_url = location(&resp);
    let html = b.page(&page_url).await;
    let next = b
        .submit(&html, &[("method", "code"), ("email", email)])
        .await;
    let html = b.page(&next).await;
    let code = inbox_code(&app, email).await;
    let next = b
        .submit(&html, &[("method", "code"), ("code", &code)])
        .await;
    let html = b.page(&next).await;
    assert!(
        html.contains("You successfully verified your email address."),
        "{html}"
    );
    assert_eq!(
        attr_after(&html, r#"id="n1-continue""#, "href"),
        login_then(&app, &return_to)
    );
}

/// The sign-in that continues to `to` (what a signed-out person's Continue leads to).
fn login_then(app: &TestApp, to: &str) -> String {
    format!(
        "{}/self-service/login/browser?return_to={}",
        app.public,
        crate::verification_support::enc(to)
    )
}

#[tokio::test]
async fn the_stylesheet_is_cacheable() {
    let app = spawn_app().await;
    let url = format!("{}/ui/static/verity.css", app.public);
    let resp = app.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let cache = resp.headers()[CACHE_CONTROL].to_str().unwrap().to_owned();
    assert!(
        cache.starts_with("public") && cache.contains("max-age="),
        "{cache}"
    );
    let etag = resp.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(resp.text().await.unwrap().contains("font-family"));
    let resp = app
        .http
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    let home = app
        .http
        .get(format!("{}/ui/", app.public))
        .send()
        .await
        .unwrap();
    let html = home.text().await.unwrap();
    assert!(html.contains("/ui/static/verity.css?v="), "{html}");
    assert!(
        html.contains("/self-service/login/browser")
            && html.contains("/self-service/registration/browser")
    );
}

#[tokio::test]
async fn browser_errors_go_to_the_error_page() {
    let app = spawn_app().await;
    let b = Browser::new();
    let page_url = b.start(&app).await;
    let flow_id = page_url.rsplit('=').next().unwrap().to_owned();
    // An address submission without the form's CSRF token.
    let resp = b
        .http
        .post(format!(
            "{}/self-service/verification?flow={flow_id}",
            app.public
        ))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("method", "code"), ("email", "x@example.com")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    let prefix = format!("{}/ui/error?id=", app.public);
    assert!(to.starts_with(&prefix), "{to}");
    let id = to[prefix.len()..].to_owned();

    for base in [
        format!("{}/self-service/errors", app.public),
        format!("{}/admin/self-service/errors", app.admin),
        format!("{}/self-service/errors", app.admin),
    ] {
        let resp = app
            .http
            .get(format!("{base}?id={id}"))
            .send()
            .await
            .unwrap();
        let body: Value = json_with_status(resp, 200).await;
        assert_eq!(body["id"], id.as_str(), "{base}");
        assert_eq!(body["error"]["id"], "security_csrf_violation");
        assert_eq!(body["error"]["code"], 403);
        assert!(body["created_at"].is_string() && body["updated_at"].is_string());
    }
    let html = b.page(&to).await;
    assert!(
        html.contains("For your safety this request was blocked"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"href="{}/ui/""#, app.public)),
        "a link home: {html}"
    );

    let resp = app
        .http
        .get(format!(
            "{}/self-service/errors?id={}",
            app.public,
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    let body = json_with_status(resp, 404).await;
    assert_eq!(body["error"]["code"], 404);
    let resp = b.get(&format!("{}/ui/error?id=nope", app.public)).await;
    assert_eq!(resp.status(), 404);

    // A form post without `flow` goes to the error UI like every other browser error (it
    // used to be rendered at once, which skipped an external `error.ui_url`).
    let resp = b
        .http
        .post(format!("{}/self-service/verification", app.public))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("method", "code")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/ui/error?id=", app.public)),
        "{location}"
    );
    let html = b.get(&location).await.text().await.unwrap();
    assert!(
        html.contains("The flow query parameter is missing or malformed."),
        "{html}"
    );
}

/// How many self-service errors are stored, counted by deleting them all.
async fn stored_errors(app: &TestApp) -> u64 {
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    app.store().purge_errors(later).await.unwrap()
}

/// A verification form post without the CSRF token: a browser error for the error UI.
async fn post_without_csrf(app: &TestApp, b: &Browser, flow_id: &str) -> reqwest::Response {
    b.http
        .post(format!(
            "{}/self-service/verification?flow={flow_id}",
            app.public
        ))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("method", "code"), ("email", "x@example.com")]))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_client_cannot_fill_the_error_store() {
    let app = spawn_with(|s| s.selfservice.rate_limits.flows_per_ip_minute = 5).await;
    let b = Browser::new();
    let page_url = b.start(&app).await;
    let flow_id = page_url.rsplit('=').next().unwrap().to_owned();
    let mut forwarded = 0;
    let mut limited = 0;
    for _ in 0..10 {
        let resp = post_without_csrf(&app, &b, &flow_id).await;
        match resp.status().as_u16() {
            303 => {
                assert!(location(&resp).contains("/ui/error?id="));
                forwarded += 1;
            }
            429 => {
                assert!(resp.headers().get(LOCATION).is_none());
                assert!(resp.headers().contains_key("retry-after"));
                let html = resp.text().await.unwrap();
                assert!(html.contains("Too many attempts"), "{html}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Starting the flow took one of the five.
    assert_eq!((forwarded, limited), (4, 6));
    assert_eq!(
        stored_errors(&app).await,
        4,
        "limited errors are not stored"
    );
}

#[tokio::test]
async fn old_errors_are_purged_as_new_ones_are_stored() {
    let app = spawn_with(|s| s.selfservice.rate_limits.enabled = false).await;
    let store = &app.store();
    let now = chrono::Utc::now();
    let stored = |age: chrono::TimeDelta| verity::persistence::errors::StoredError {
        id: uuid::Uuid::new_v4(),
        error: serde_json::json!({"code": 400, "status": "Bad Request", "message": "x"}),
        created_at: now - age,
        updated_at: now - age,
    };
    let old = stored(chrono::TimeDelta::hours(2));
    let recent = stored(chrono::TimeDelta::minutes(5));
    store.insert_selfservice_error(&old).await.unwrap();
    store.insert_selfservice_error(&recent).await.unwrap();
    let b = Browser::new();
    let page_url = b.start(&app).await;
    let flow_id = page_url.rsplit('=').next().unwrap().to_owned();
    for _ in 0..50 {
        let resp = post_without_csrf(&app, &b, &flow_id).await;
        assert_eq!(resp.status(), 303);
    }
    assert!(store.get_selfservice_error(old.id).await.unwrap().is_none());
    assert!(
        store
            .get_selfservice_error(recent.id)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_login_form_post_without_csrf_goes_to_the_error_page() {
    let app = spawn_app().await;
    let b = Browser::new();
    let resp = b
        .get(&format!("{}/self-service/login/browser", app.public))
        .await;
    let page = location(&resp);
    let flow_id = page.rsplit('=').next().unwrap().to_owned();
    let resp = b
        .http
        .post(format!("{}/self-service/login?flow={flow_id}", app.public))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("method", "password"),
            ("identifier", "x@example.com"),
            ("password", "whatever it is"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let to = location(&resp);
    let prefix = format!("{}/ui/error?id=", app.public);
    assert!(to.starts_with(&prefix), "{to}");
    let resp = app
        .http
        .get(format!(
            "{}/self-service/errors?id={}",
            app.public,
            &to[prefix.len()..]
        ))
        .send()
        .await
        .unwrap();
    let body = json_with_status(resp, 200).await;
    assert_eq!(body["error"]["id"], "security_csrf_violation");
    let html = b.page(&to).await;
    assert!(html.contains("For your safety"), "{html}");
}

#[tokio::test]
async fn a_settings_page_is_shown_only_to_its_own_session() {
    use crate::auth_support::{FlowClient, PASSWORD, login_token, register_verified, sign_in};
    use crate::verification_support::Kind;

    let app = spawn_app().await;
    let a = register_verified(&app, "settings-a@example.com").await;
    register_verified(&app, "settings-b@example.com").await;
    let c = FlowClient::new(Kind::Browser);
    let flow = c.init(&app, "login").await;
    let r = c
        .submit(
            &app,
            "login",
            &flow,
            sign_in("settings-a@example.com", PASSWORD),
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let flow = c.init(&app, "settings").await;
    let page = format!(
        "{}/ui/settings?flow={}",
        app.public,
        flow["id"].as_str().unwrap()
    );
    let restart = format!("{}/self-service/settings/browser", app.public);
    let resp = c.http.get(&page).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the owner sees it");

    // B's session in the same browser.
    let b_token = login_token(&app, "settings-b@example.com").await;
    let resp = c
        .http
        .get(&page)
        .header("X-Session-Token", &b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), restart);

    // A signed out everywhere.
    let resp = app
        .http
        .delete(format!("{}/admin/identities/{a}/sessions", app.admin))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let resp = c.http.get(&page).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), restart);
}

#[tokio::test]
async fn a_broken_templates_dir_or_unknown_locale_stops_the_start() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("home.hbs"), "{{#if}}").unwrap();
    let broken = dir.0.display().to_string();
    let missing = dir.0.join("nope").display().to_string();
    // (what the error names, ui.templates_dir, ui.locale)
    let cases = [
        ("template home", Some(broken), "en"),
        ("ui.templates_dir", Some(missing), "en"),
        ("ui.locale", None, "xx"),
    ];
    let source = verity::config::ConfigSource::File(std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.yml"
    )));
    for (needle, templates_dir, locale) in cases {
        let db = TempDir::new();
        let mut settings = crate::helpers::base_settings(&format!(
            "sqlite://{}/verity.sqlite?mode=rwc",
            db.0.display()
        ));
        settings.ui.templates_dir = templates_dir;
        settings.ui.locale = locale.into();
        let err = verity::startup::Application::build(settings, &source, true, true)
            .await
            .err()
            .unwrap_or_else(|| panic!("{needle}: the start fails"));
        let err = format!("{err:#}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[tokio::test]
async fn a_templates_dir_replaces_pages() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("home.hbs"),
        "{{#> layout}}<p>Custom home {{flows.login}}</p>{{/layout}}",
    )
    .unwrap();
    let path = dir.0.display().to_string();
    let app = spawn_with(|s| s.ui.templates_dir = Some(path)).await;
    let resp = app
        .http
        .get(format!("{}/ui/", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<p>Custom home {}/self-service/login/browser</p>",
            app.public
        )),
        "{html}"
    );
    assert!(
        html.contains("<!doctype html>"),
        "the embedded layout still wraps it"
    );
}

#[tokio::test]
async fn login_registration_and_settings_pages_restart_and_link_each_other() {
    let app = spawn_app().await;
    let b = Browser::new();
    for kind in ["login", "registration", "settings"] {
        let restart = format!("{}/self-service/{kind}/browser", app.public);
        for query in [format!("?flow={}", uuid::Uuid::new_v4()), String::new()] {
            let resp = b.get(&format!("{}/ui/{kind}{query}", app.public)).await;
            assert_eq!(resp.status(), 303, "{kind}{query}");
            assert_eq!(location(&resp), restart);
        }
    }
    for (kind, other) in [("login", "registration"), ("registration", "login")] {
        let resp = b
            .get(&format!("{}/self-service/{kind}/browser", app.public))
            .await;
        let page = location(&resp);
        assert!(
            page.starts_with(&format!("{}/ui/{kind}?flow=", app.public)),
            "{page}"
        );
        let html = b.page(&page).await;
        assert!(html.contains(r#"name="password""#), "{html}");
        let link = format!("{}/self-service/{other}/browser", app.public);
        assert_eq!(
            attr_after(&html, &format!(r#"id="link-{other}""#), "href"),
            link
        );
        assert!(html.contains(r#"id="link-verification""#), "{html}");
        // Another browser (one that holds a cookie of its own) gets a flow of its own.
        let other_browser = Browser::new();
        other_browser.start(&app).await;
        let resp = other_browser.get(&page).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(
            location(&resp),
            format!("{}/self-service/{kind}/browser", app.public)
        );
    }
    let home = b.page(&format!("{}/ui/", app.public)).await;
    assert!(home.contains(r#"id="link-login""#), "{home}");
    assert!(!home.contains("link-logout"), "signed out: {home}");
}
