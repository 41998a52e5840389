//! The middleware in front of both ports (issue 15.5–15.7): cross-site requests refused by
//! Fetch Metadata and Origin, the admin port's Host allow-list, and slow or greedy clients.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{TestApp, json_with_status, spawn_app, spawn_with};
use crate::verification_support::outbox_all;

/// The action URL of a new api verification flow.
pub async fn verification_action(app: &TestApp) -> String {
    let resp = app
        .http
        .get(format!("{}/self-service/verification/api", app.public))
        .send()
        .await
        .unwrap();
    let flow = json_with_status(resp, 200).await;
    format!(
        "{}/self-service/verification?flow={}",
        app.public,
        flow["id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn a_cross_site_code_request_is_refused_before_any_message_is_queued() {
    let app = spawn_app().await;
    app.create_identity(&json!({"schema_id": "default", "traits": {"email": "kim@example.com"}}))
        .await;
    let action = verification_action(&app).await;
    let body = json!({"method": "code", "email": "kim@example.com"});
    let refused = app
        .http
        .post(&action)
        .header("accept", "application/json")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.test")
        .json(&body)
        .send()
        .await
        .unwrap();
    let err = json_with_status(refused, 403).await;
    assert_eq!(err["error"]["id"], "security_csrf_violation", "{err}");
    assert!(outbox_all(&app).await.is_empty(), "no work was done");
    // Without Fetch Metadata the Origin of a request with cookies decides: a foreign one, or
    // `null`, is refused too.
    for origin in ["https://evil.test", "null"] {
        let resp = app
            .http
            .post(&action)
            .header("origin", origin)
            .header("cookie", "ory_kratos_session=x")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "Origin: {origin}");
    }
    // The same request marked same-origin is served (an api flow refuses any Origin header
    // itself, as Kratos does, so none is sent here).
    let own = app
        .http
        .post(&action)
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    let own = json_with_status(own, 200).await;
    assert_eq!(own["state"], "sent_email", "{own}");
    assert_eq!(outbox_all(&app).await.len(), 1);
}

#[tokio::test]
async fn a_cross_site_browser_form_post_gets_the_error_page() {
    let app = spawn_app().await;
    let action = verification_action(&app).await;
    let resp = app
        .http
        .post(&action)
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.test")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("method=code&email=kim%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("<html"), "{page}");
}

#[tokio::test]
async fn the_oidc_form_post_callback_and_allowed_origins_accept_cross_site_posts() {
    let app = spawn_with(|s| {
        s.protection.fetch_metadata.allowed_origins = vec!["https://*.partner.test".into()];
    })
    .await;
    let cross = |url: String, origin: &'static str| {
        app.http
            .post(url)
            .header("accept", "application/json")
            .header("sec-fetch-site", "cross-site")
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("state=x&code=y")
            .send()
    };
    let callback = format!("{}/self-service/methods/oidc/callback/acme", app.public);
    let resp = cross(callback, "https://id.provider.test").await.unwrap();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_ne!(body["error"]["id"], "security_csrf_violation", "{body}");
    let action = verification_action(&app).await;
    let resp = cross(action, "https://app.partner.test").await.unwrap();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_ne!(body["error"]["id"], "security_csrf_violation", "{body}");
}

fn admin_port(app: &TestApp) -> u16 {
    app.admin.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_admin_port_answers_only_its_own_host_names() {
    let app = spawn_app().await;
    let port = admin_port(&app);
    let get = |path: &'static str, host: String| {
        app.http
            .get(format!("{}{path}", app.admin))
            .header("host", host)
            .send()
    };
    for path in [
        "/admin/identities",
        "/admin/dev/inbox.json",
        "/admin/dev/inbox",
    ] {
        let resp = get(path, format!("rebind.evil.test:{port}")).await.unwrap();
        let body = json_with_status(resp, 421).await;
        assert_eq!(body["error"]["code"], 421, "{path}: {body}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let resp = get("/admin/identities", host.clone()).await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
    }
    let probe = get("/health/alive", "10.1.2.3:4434".into()).await.unwrap();
    assert_eq!(probe.status(), 200, "health probes by pod IP still work");
}

/// Sends `head` (and maybe part of a body) and reads until the server answers or closes.
async fn raw(port: u16, from: Option<&str>, request: &str) -> TcpStream {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let stream = match from {
        Some(ip) => {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            socket.connect(addr).await.unwrap()
        }
        None => TcpStream::connect(addr).await.unwrap(),
    };
    let mut stream = stream;
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

async fn status_line(stream: &mut TcpStream, within: Duration) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn public_port(app: &TestApp) -> u16 {
    app.public.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_body_that_never_ends_or_falls_short_gets_408_within_the_timeout() {
    let app = spawn_with(|s| {
        s.protection.clients.body_timeout = verity::config::GoDuration::from_secs(1);
    })
    .await;
    let port = public_port(&app);
    let head = "POST /self-service/verification?flow=00000000-0000-0000-0000-000000000000 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for request in [
        format!("{head}Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n"),
        format!("{head}Content-Length: 100\r\n\r\n{{\"method\":\"code\"}}"),
    ] {
        let started = Instant::now();
        let mut stream = raw(port, None, &request).await;
        let line = status_line(&mut stream, Duration::from_secs(5)).await;
        let took = started.elapsed();
        assert!(line.starts_with("HTTP/1.1 408"), "{line:?}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}

#[tokio::test]
async fn the_connection_over_the_cap_is_refused_while_others_are_served() {
    let app = spawn_with(|s| {
        s.protection.clients.max_connections_per_ip = 3;
        s.protection.clients.body_timeout = verity::config::GoDuration::from_secs(30);
    })
    .await;
    let port = public_port(&app);
    let slow = "POST /self-service/verification?flow=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{";
    let get = "GET /health/alive HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(raw(port, None, slow).await);
    }
    // Give the server a moment to accept all three.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = raw(port, None, get).await;
    let line = status_line(&mut fourth, Duration::from_secs(5)).await;
    assert!(line.starts_with("HTTP/1.1 429"), "{line:?}");
    let mut other = raw(port, Some("127.0.0.2"), get).await;
    let line = status_line(&mut other, Duration::from_secs(5)).await;
    assert!(
        line.starts_with("HTTP/1.1 200"),
        "another address is served: {line:?}"
    );
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = raw(port, None, get).await;
    let line = status_line(&mut again, Duration::from_secs(5)).await;
    assert!(
        line.starts_with("HTTP/1.1 200"),
        "a closed connection frees its place: {line:?}"
    );
}
