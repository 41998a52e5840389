use serde_json::{Value, json};

use super::*;

fn text(id: u32, text: &str, kind: &str) -> Value {
    json!({"id": id, "text": text, "type": kind})
}

fn input(name: &str, kind: &str, group: &str, extra: Value) -> Value {
    let mut attributes =
        json!({"name": name, "type": kind, "disabled": false, "node_type": "input"});
    if let (Some(a), Value::Object(e)) = (attributes.as_object_mut(), extra) {
        a.extend(e);
    }
    json!({"type": "input", "group": group, "attributes": attributes, "messages": [], "meta": {}})
}

fn render_form(r: &Renderer, ui: &Value) -> String {
    let ctx = json!({"form": r.form("en", ui)});
    // The `form` partial alone, through the real registry.
    r.hb.render_template("{{> form form}}", &ctx)
        .expect("render")
}

fn every_node_ui() -> Value {
    let mut email = input(
        "email",
        "email",
        "code",
        json!({"value": "a@example.com", "required": true, "autocomplete": "email"}),
    );
    email["meta"]["label"] = text(1070007, "Email", "info");
    email["messages"] = json!([text(4000002, "Property email is missing.", "error")]);
    let mut password = input(
        "password",
        "password",
        "password",
        json!({"required": true, "autocomplete": "current-password", "pattern": "[a-z]+", "maxlength": 64}),
    );
    password["meta"]["label"] = text(1070001, "Password", "info");
    let mut check = input("remember", "checkbox", "default", json!({"value": true}));
    check["meta"]["label"] = json!({"id": 9999999, "text": "Remember me", "type": "info"});
    let mut submit_a = input("method", "submit", "password", json!({"value": "password"}));
    submit_a["meta"]["label"] = text(1070009, "Continue", "info");
    let mut submit_b = input("method", "submit", "code", json!({"value": "code"}));
    submit_b["meta"]["label"] = text(1070006, "Verify code", "info");
    let mut oidc = input("provider", "submit", "oidc", json!({"value": "github"}));
    oidc["meta"]["label"] = json!({"id": 1010002, "text": "Sign in with GitHub", "type": "info", "context": {"provider": "GitHub", "provider_id": "github"}});
    let button = input("webauthn", "button", "webauthn", json!({"value": ""}));
    let mut nodes = vec![email, password, check, submit_a, submit_b, oidc, button];
    for kind in ["text", "tel", "number", "date", "url", "datetime-local"] {
        nodes.push(input(
            &format!("f_{kind}"),
            kind,
            "profile",
            json!({"value": ""}),
        ));
    }
    nodes.push(input(
        "disabled_one",
        "text",
        "profile",
        json!({"disabled": true}),
    ));
    nodes.push(input(
        "csrf_token",
        "hidden",
        "default",
        json!({"value": "tok+/=", "required": true}),
    ));
    nodes.push(json!({"type": "text", "group": "lookup_secret", "attributes": {"id": "codes", "node_type": "text",
        "text": {"id": 1050015, "text": "codes", "type": "info", "context": {"secrets": [{"id": 1050009, "text": "abcd", "type": "info"}, {"id": 1050009, "text": "efgh", "type": "info"}]}}},
        "messages": [], "meta": {"label": text(1050010, "These are your back up recovery codes.", "info")}}));
    nodes.push(json!({"type": "a", "group": "code", "attributes": {"id": "continue", "href": "https://app.example.com/done", "title": text(1070009, "Continue", "info"), "node_type": "a"}, "messages": [], "meta": {"label": text(1070009, "Continue", "info")}}));
    nodes.push(json!({"type": "img", "group": "totp", "attributes": {"id": "totp_qr", "src": "data:image/png;base64,AAAA", "width": 256, "height": 256, "node_type": "img"}, "messages": [], "meta": {"label": text(1050005, "Authenticator app QR code", "info")}}));
    nodes.push(json!({"type": "script", "group": "webauthn", "attributes": {"id": "webauthn_script", "src": "https://x/y.js", "async": true, "node_type": "script"}, "messages": [], "meta": {}}));
    nodes.push(json!({"type": "div", "group": "captcha", "attributes": {"id": "captcha", "class": "cf-turnstile", "node_type": "div"}, "messages": [], "meta": {}}));
    json!({
        "action": "https://id.example.com/self-service/login?flow=1",
        "method": "POST",
        "nodes": nodes,
        "messages": [text(4000006, "bad credentials", "error"), text(1080003, "sent", "info")],
    })
}

#[test]
fn every_node_type_renders() {
    let r = Renderer::load(None, "en").unwrap();
    let html = render_form(&r, &every_node_ui());
    assert!(html.contains(r#"<form class="flow" action="https://id.example.com/self-service/login?flow=1" method="post">"#), "{html}");
    assert!(
        html.contains(r#"<input type="hidden" name="csrf_token" value="tok+/=">"#),
        "{html}"
    );
    assert!(html.contains(r#"type="email" id="n0-email" name="email" value="a@example.com" required autocomplete="email""#), "{html}");
    assert!(
        html.contains(r#"<label for="n0-email">Email</label>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"pattern="[a-z]+" maxlength="64""#),
        "{html}"
    );
    assert!(
        html.contains(r#"type="checkbox" id="n2-remember" name="remember" value="true" checked"#),
        "{html}"
    );
    assert!(
        html.contains("Remember me"),
        "unknown id: the message's own text"
    );
    // Two submit buttons share the name `method`.
    assert!(
        html.contains(r#"name="method" value="password" class="button primary">Continue</button>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="method" value="code" class="button primary">Verify code</button>"#),
        "{html}"
    );
    assert!(html.contains(r#"name="provider" value="github" class="button" formnovalidate>Sign in with GitHub</button>"#), "{html}");
    assert!(
        html.contains(r#"<button type="button" id="n6-webauthn""#),
        "{html}"
    );
    for kind in ["text", "tel", "number", "date", "url", "datetime-local"] {
        assert!(
            html.contains(&format!(r#"type="{kind}" id="#)),
            "{kind}: {html}"
        );
    }
    assert!(html.contains(r#"name="disabled_one" disabled>"#), "{html}");
    assert!(
        html.contains("<code>abcd</code>") && html.contains("<code>efgh</code>"),
        "{html}"
    );
    assert!(
        html.contains(r#"href="https://app.example.com/done">Continue</a>"#),
        "{html}"
    );
    assert!(html.contains(r#"src="data:image/png;base64,AAAA" alt="Authenticator app QR code" width="256" height="256""#), "{html}");
    assert!(
        html.contains(r#"class="field field-div cf-turnstile""#),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("y.js"),
        "scripts are not rendered"
    );
    // Groups keep their order of first appearance, the oidc group on its own.
    let code = html.find("group-code").unwrap();
    let oidc = html.find("group-oidc").unwrap();
    assert!(code < oidc, "{html}");
}

#[test]
fn messages_render_per_node_and_per_flow() {
    let r = Renderer::load(None, "en").unwrap();
    let html = render_form(&r, &every_node_ui());
    assert!(
        html.contains(r#"aria-describedby="n0-email-msg-0" aria-invalid="true""#),
        "{html}"
    );
    assert!(html.contains(r#"<p id="n0-email-msg-0" class="message message-error" role="alert">Property email is missing.</p>"#), "{html}");
    // Flow messages: at the top, before the form, translated by id.
    let flow_error = html
        .find(
            r#"<p class="message message-error" role="alert">The provided credentials are invalid"#,
        )
        .expect("flow error");
    let info = html.find(r#"<p class="message message-info" role="status">An email containing a verification code"#).expect("flow info");
    assert!(
        flow_error < info && info < html.find("<form").unwrap(),
        "{html}"
    );
}

#[test]
fn catalogue_fills_placeholders_and_falls_back() {
    let c = Catalogue::load(None).unwrap();
    let m = json!({"id": 4000002, "text": "Property x is missing.", "type": "error", "context": {"property": "traits.email"}});
    assert_eq!(c.message("en", &m), "Property traits.email is missing.");
    let no_ctx = json!({"id": 4000002, "text": "Property y is missing.", "type": "error"});
    assert_eq!(
        c.message("en", &no_ctx),
        "Property y is missing.",
        "a missing placeholder keeps the own text"
    );
    let unknown = json!({"id": 1234567, "text": "Own text", "type": "info"});
    assert_eq!(c.message("en", &unknown), "Own text");
    assert_eq!(
        c.message("xx", &json!({"id": 1070007, "text": "E", "type": "info"})),
        "Email",
        "unknown language: English"
    );
    let ctx = json!({"a": "1", "b": 2});
    assert_eq!(
        catalogue::fill("{a} and {b}", ctx.as_object().unwrap()).unwrap(),
        "1 and 2"
    );
    assert_eq!(c.negotiate(Some("de-DE,de;q=0.9,en;q=0.8"), "en"), "en");
    assert_eq!(c.negotiate(None, "fr"), "en");
}

#[test]
fn templates_dir_overrides_templates_and_adds_a_language() {
    let dir = std::env::temp_dir().join(format!("verity-ui-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("text")).unwrap();
    std::fs::write(
        dir.join("error.hbs"),
        "CUSTOM {{message}} {{t.error_title}}",
    )
    .unwrap();
    std::fs::write(dir.join("verity.css"), "body{color:red}").unwrap();
    std::fs::write(
        dir.join("text/de.json"),
        r#"{"1070007": "E-Mail", "error_title": "Fehler"}"#,
    )
    .unwrap();
    let r = Renderer::load(Some(&dir), "en").unwrap();
    let c = &r.catalogue;
    let ctx = json!({"message": "boom", "t": c.page_strings("de")});
    assert_eq!(r.render("error", &ctx).unwrap(), "CUSTOM boom Fehler");
    assert_eq!(c.negotiate(Some("de-DE,de;q=0.9,en;q=0.8"), "en"), "de");
    assert_eq!(
        c.message(
            "de",
            &json!({"id": 1070007, "text": "Email", "type": "info"})
        ),
        "E-Mail"
    );
    assert_eq!(
        c.message("de", &json!({"id": 1070009, "text": "x", "type": "info"})),
        "Continue",
        "missing in de: English"
    );
    let (css, etag) = r.css();
    assert_eq!(css, "body{color:red}");
    assert_ne!(etag, Renderer::load(None, "en").unwrap().css().1);
    // Untouched pages stay the embedded ones.
    assert!(r.hb.get_template("verification").is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_override_is_an_error() {
    let dir = std::env::temp_dir().join(format!("verity-ui-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("node.hbs"), "{{#if}}").unwrap();
    let err = Renderer::load(Some(&dir), "en").unwrap_err();
    assert!(err.0.contains("node"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn values_are_escaped() {
    let r = Renderer::load(None, "en").unwrap();
    let ui = json!({"action": "/a?x=1&y=\"2", "method": "POST", "nodes": [input("q", "text", "default", json!({"value": "<script>'\"&"}))]});
    let html = render_form(&r, &ui);
    assert!(html.contains(r#"action="/a?x=1&amp;y=&quot;2""#), "{html}");
    assert!(
        html.contains(r#"value="&lt;script&gt;&#x27;&quot;&amp;""#),
        "{html}"
    );
}

#[test]
fn addresses_are_masked() {
    assert_eq!(mask_address("jane@example.com"), "j***@example.com");
    assert_eq!(mask_address("+4917612345678"), "+49 *** *** 78");
    assert_eq!(mask_address("+14155550123"), "+1 *** *** 23");
    assert_eq!(mask_address("0176 1234 5678"), "*** *** 78");
    assert_eq!(mask_address("123"), "***");
    assert!(!mask_address("jane@example.com").contains("jane"));
}

#[test]
fn every_page_renders_with_its_model() {
    let r = Renderer::load(None, "en").unwrap();
    let c = &r.catalogue;
    let common = |extra: Value| {
        let mut ctx = json!({"lang": "en", "t": c.page_strings("en"), "title": "T", "css_href": "/c.css", "home_href": "/ui/", "dev_inbox": "http://admin/admin/dev/inbox"});
        ctx.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ctx
    };
    let home = r.render("home", &common(json!({"flows": {"registration": "/r", "login": "/l", "verification": "/v", "settings": "/s"}}))).unwrap();
    assert!(
        home.contains(r#"href="/v""#) && home.contains("http://admin/admin/dev/inbox"),
        "{home}"
    );
    let ver = r.render("verification", &common(json!({"form": r.form("en", &every_node_ui()), "sent_to": "We sent a code to j***@example.com.", "resent": "A new code was sent at 10:42 (UTC).", "for_sign_in": true, "sign_in_next": false, "waiting": true, "passed": false, "state": "sent_email", "restart": "/restart", "login_href": "/l"}))).unwrap();
    assert!(
        ver.contains("j***@example.com") && ver.contains(r#"href="/restart""#),
        "{ver}"
    );
    assert!(
        ver.contains("Verify your address to finish signing in") && ver.contains("10:42"),
        "{ver}"
    );
    let flows =
        json!({"registration": "/r", "login": "/l", "verification": "/v", "settings": "/s"});
    let identity = json!({"traits": [{"name": "email", "value": "a@b.c"}], "verified": false,
        "addresses": [{"value": "a@b.c", "verified": false, "status": "sent", "via": "email"}]});
    let home = r.render("home", &common(json!({"flows": flows, "signed_in": true, "identity": identity, "logout_href": "/out"}))).unwrap();
    assert!(
        home.contains(r#"href="/out""#) && home.contains("address-pending"),
        "{home}"
    );
    for kind in ["login", "registration", "settings", "recovery"] {
        let links =
            json!({"login": "/l", "registration": "/r", "verification": "/v", "recovery": "/rc"});
        let model = json!({"form": r.form("en", &every_node_ui()), "kind": kind, "refresh": false, "links": links,
            "sent_to": null, "resent": null, "waiting": true, "recovery_enabled": true});
        let page = r.render(kind, &common(model)).unwrap();
        assert!(page.contains("<form"), "{page}");
    }
    let err = r
        .render(
            "error",
            &common(json!({"message": "m", "code": 403, "error_id": "security_csrf_violation"})),
        )
        .unwrap();
    assert!(
        err.contains("security_csrf_violation") && err.contains(r#"role="alert""#),
        "{err}"
    );
}

#[test]
fn each_method_gets_its_own_form_with_the_csrf_token() {
    let r = Renderer::load(None, "en").unwrap();
    let button = |group: &str| {
        input(
            "method",
            "submit",
            group,
            json!({"value": group, "label": text(1070003, "Save", "info")}),
        )
    };
    let ui = json!({"action": "http://x/self-service/settings?flow=1", "method": "POST", "nodes": [
        input("csrf_token", "hidden", "default", json!({"value": "tok"})),
        input("traits.email", "email", "profile", json!({"required": true})),
        button("profile"),
        input("password", "password", "password", json!({"required": true})),
        button("password"),
    ]});
    let html = render_form(&r, &ui);
    assert_eq!(html.matches("<form").count(), 2, "{html}");
    assert_eq!(
        html.matches(r#"name="csrf_token" value="tok""#).count(),
        2,
        "{html}"
    );
    let second = html.rfind("<form").unwrap();
    assert!(html[..second].contains(r#"name="traits.email""#), "{html}");
    assert!(!html[..second].contains(r#"name="password""#), "{html}");
    assert!(html[second..].contains(r#"name="password""#), "{html}");

    // One method: one form.
    let ui = json!({"action": "a", "method": "POST", "nodes": [
        input("csrf_token", "hidden", "default", json!({"value": "tok"})),
        input("password", "password", "password", json!({"required": true})),
        button("password"),
    ]});
    assert_eq!(render_form(&r, &ui).matches("<form").count(), 1);
}

#[test]
fn an_unknown_default_locale_is_an_error() {
    let err = Renderer::load(None, "xx").unwrap_err();
    assert!(
        err.0.contains("ui.locale") && err.0.contains("\"xx\"") && err.0.contains("en"),
        "{err}"
    );
}
