//! Helpers for the verification tests: one client per Kratos request kind (browser form posts,
//! SPA JSON on a browser flow, native api flows), each with its own cookie jar; identities;
//! the dev inbox; and accessors for flow JSON.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_with_status};

/// How a client talks to the verification endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Browser flow, form posts without a JSON `Accept`: every answer is a 303.
    Browser,
    /// Browser flow, JSON requests (a single-page app).
    Spa,
    /// Api flow, JSON requests (a native app).
    Api,
}

pub const KINDS: [Kind; 3] = [Kind::Browser, Kind::Spa, Kind::Api];

/// Kratos's `security_csrf_violation` reason.
pub const CSRF_REASON: &str = "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.";

impl Kind {
    pub fn is_json(self) -> bool {
        self != Kind::Browser
    }
    pub fn flow_type(self) -> &'static str {
        if self == Kind::Api { "api" } else { "browser" }
    }
}

/// A fresh cookie jar that does not follow redirects.
pub fn jar() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

pub fn ui_url(app: &TestApp) -> String {
    format!("{}/ui/verification", app.public)
}

/// An HTTP answer, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The flow id a 303 points at (`{ui}?flow=` or `.../flows?id=`).
    pub fn redirect_flow_id(&self) -> Option<String> {
        let url = url::Url::parse(self.location()?).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "flow" || k == "id")
            .map(|(_, v)| v.into_owned())
    }

    /// Names of the cookies the response sets.
    pub fn cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split('=').next())
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    pub fn error_id(&self) -> Option<&str> {
        self.body["error"]["id"].as_str()
    }
}

/// One client of a kind, with its own cookie jar.
pub struct Client {
    pub kind: Kind,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(kind: Kind) -> Self {
        Self { kind, http: jar() }
    }

    pub async fn init(&self, app: &TestApp) -> Value {
        self.init_with(app, None).await
    }

    /// Starts a flow the way this kind of client does and returns its JSON.
    pub async fn init_with(&self, app: &TestApp, return_to: Option<&str>) -> Value {
        let reply = self.init_raw(app, return_to).await;
        match self.kind {
            Kind::Browser => {
                assert_eq!(reply.status, 303, "browser init redirects: {reply:?}");
                let loc = reply.location().unwrap();
                assert!(
                    loc.starts_with(&format!("{}?flow=", ui_url(app))),
                    "to the UI: {loc}"
                );
                self.flow(app, &reply.redirect_flow_id().unwrap()).await
            }
            Kind::Spa | Kind::Api => {
                assert_eq!(reply.status, 200, "init answers the flow: {reply:?}");
                reply.body
            }
        }
    }

    pub async fn init_raw(&self, app: &TestApp, return_to: Option<&str>) -> Reply {
        let path = if self.kind == Kind::Api {
            "api"
        } else {
            "browser"
        };
        let mut url = format!("{}/self-service/verification/{path}", app.public);
        if let Some(r) = return_to {
            url.push_str(&format!("?return_to={}", enc(r)));
        }
        let mut req = self.http.get(url);
        if self.kind.is_json() {
            req = req.header(ACCEPT, "application/json");
        }
        Reply::read(req.send().await.expect("init")).await
    }

    pub async fn get_flow(&self, app: &TestApp, id: &str) -> Reply {
        let resp = self
            .http
            .get(format!(
                "{}/self-service/verification/flows?id={id}",
                app.public
            ))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("get flow");
        Reply::read(resp).await
    }

    /// `GET .../flows?id=`, which must answer 200.
    pub async fn flow(&self, app: &TestApp, id: &str) -> Value {
        let reply = self.get_flow(app, id).await;
        assert_eq!(reply.status, 200, "GET flow {id}: {reply:?}");
        reply.body
    }

    /// A raw submission: a form post for browsers, JSON otherwise.
    pub async fn post(&self, app: &TestApp, flow_id: &str, fields: &[(&str, &str)]) -> Reply {
        let url = format!("{}/self-service/verification?flow={flow_id}", app.public);
        let req = match self.kind {
            Kind::Browser => self
                .http
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(fields)),
            Kind::Spa | Kind::Api => {
                let body: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect();
                self.http
                    .post(url)
                    .header(ACCEPT, "application/json")
                    .json(&body)
            }
        };
        Reply::read(req.send().await.expect("submit")).await
    }

    /// Submits as a UI would: with the flow's CSRF token when it has one.
    pub async fn submit(&self, app: &TestApp, flow: &Value, fields: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = csrf_of(flow);
        if let Some(t) = csrf.as_deref().filter(|t| !t.is_empty())
            && !fields.iter().any(|(k, _)| *k == "csrf_token")
        {
            all.push(("csrf_token", t));
        }
        self.post(app, flow["id"].as_str().unwrap(), &all).await
    }

    pub async fn send_code(&self, app: &TestApp, flow: &Value, address: &str) -> Reply {
        self.submit(app, flow, &[("method", "code"), ("email", address)])
            .await
    }

    pub async fn use_code(&self, app: &TestApp, flow: &Value, code: &str) -> Reply {
        self.submit(app, flow, &[("method", "code"), ("code", code)])
            .await
    }

    /// `GET /self-service/verification?<query>` as a link opened from a message.
    pub async fn open_link(&self, app: &TestApp, query: &str) -> Reply {
        let mut req = self
            .http
            .get(format!("{}/self-service/verification?{query}", app.public));
        if self.kind.is_json() {
            req = req.header(ACCEPT, "application/json");
        }
        Reply::read(req.send().await.expect("link")).await
    }

    /// The flow a reply leads to: the body of a 200/400, the flow a 303 names, or the
    /// `use_flow_id` of a 410.
    pub async fn resolve(&self, app: &TestApp, reply: &Reply) -> Value {
        match reply.status {
            200 | 400 => reply.body.clone(),
            303 => {
                let id = reply
                    .redirect_flow_id()
                    .unwrap_or_else(|| panic!("303 to a flow: {reply:?}"));
                self.flow(app, &id).await
            }
            410 => {
                let id = reply.body["use_flow_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("410 with use_flow_id: {reply:?}"));
                self.flow(app, id).await
            }
            s => panic!("unexpected status {s}: {reply:?}"),
        }
    }

    /// Asserts the answer a successful step gives this kind (303 to the UI for the same flow,
    /// or `json_status` with the flow) and returns the flow.
    pub async fn expect_same_flow(
        &self,
        app: &TestApp,
        reply: &Reply,
        flow_id: &str,
        json_status: u16,
    ) -> Value {
        if self.kind == Kind::Browser {
            assert_eq!(reply.status, 303, "{reply:?}");
            assert_eq!(
                reply.location().unwrap(),
                format!("{}?flow={flow_id}", ui_url(app))
            );
        } else {
            assert_eq!(reply.status, json_status, "{reply:?}");
            assert_eq!(reply.body["id"], flow_id, "{reply:?}");
        }
        self.resolve(app, reply).await
    }

    /// Asserts a "flow replaced" answer (410 `self_service_flow_replaced` for JSON, a 303 to
    /// the UI for browsers) and returns the new flow, of the same type.
    pub async fn expect_replaced(&self, app: &TestApp, reply: &Reply, old_id: &str) -> Value {
        if self.kind == Kind::Browser {
            assert_eq!(reply.status, 303, "{reply:?}");
            assert!(
                reply
                    .location()
                    .unwrap()
                    .starts_with(&format!("{}?flow=", ui_url(app))),
                "{reply:?}"
            );
        } else {
            assert_eq!(reply.status, 410, "{reply:?}");
            assert_eq!(reply.error_id(), Some("self_service_flow_replaced"));
            assert_eq!(
                reply.body["error"]["message"], "self-service flow replaced",
                "{reply:?}"
            );
        }
        let new = self.resolve(app, reply).await;
        assert_ne!(new["id"], old_id, "a new flow");
        assert_eq!(new["type"], self.kind.flow_type(), "same flow type");
        assert_eq!(new["state"], "choose_method");
        new
    }
}

/// An address unique to a test case and client kind.
pub fn kind_address(kind: Kind, what: &str) -> String {
    format!("{what}-{kind:?}@example.com").to_lowercase()
}

/// A new flow of the client's kind, after a code was sent to `email`; with that code.
pub async fn sent_code(app: &TestApp, c: &Client, email: &str) -> (Value, String) {
    let flow = c.init(app).await;
    let id = flow["id"].as_str().unwrap().to_owned();
    let reply = c.send_code(app, &flow, email).await;
    let flow = c.expect_same_flow(app, &reply, &id, 200).await;
    assert_eq!(flow["state"], "sent_email", "{flow}");
    (flow, inbox_code(app, email).await)
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn form(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

// Flow JSON accessors.

pub fn nodes(flow: &Value) -> &Vec<Value> {
    flow["ui"]["nodes"].as_array().expect("ui.nodes")
}

/// The first node with this name (an input's `name`, an anchor's `id`).
pub fn node<'a>(flow: &'a Value, name: &str) -> Option<&'a Value> {
    nodes(flow)
        .iter()
        .find(|n| n["attributes"]["name"] == name || n["attributes"]["id"] == name)
}

pub fn csrf_of(flow: &Value) -> Option<String> {
    node(flow, "csrf_token").and_then(|n| n["attributes"]["value"].as_str().map(str::to_owned))
}

/// Ids of `ui.messages`.
pub fn message_ids(flow: &Value) -> Vec<u64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|t| t["id"].as_u64()).collect())
        .unwrap_or_default()
}

pub fn first_message(flow: &Value) -> &Value {
    &flow["ui"]["messages"][0]
}

/// Ids of the messages on a node.
pub fn node_message_ids(flow: &Value, name: &str) -> Vec<u64> {
    node(flow, name)
        .and_then(|n| n["messages"].as_array())
        .map(|m| m.iter().filter_map(|t| t["id"].as_u64()).collect())
        .unwrap_or_default()
}

// Identities.

pub async fn create_email_identity(app: &TestApp, email: &str) -> String {
    let body = json!({"schema_id": "default", "traits": {"email": email}});
    app.create_identity(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn create_phone_identity(app: &TestApp, phone: &str) -> String {
    let body = json!({"schema_id": "phone", "traits": {"phone": phone}});
    app.create_identity(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The identity's first verifiable address.
pub async fn address_of(app: &TestApp, identity: &str) -> Value {
    let i = json_with_status(
        app.get_admin(&format!("/admin/identities/{identity}"))
            .await,
        200,
    )
    .await;
    i["verifiable_addresses"][0].clone()
}

pub async fn assert_verified(app: &TestApp, identity: &str) {
    let a = address_of(app, identity).await;
    assert_eq!(a["verified"], true, "{a}");
    assert_eq!(a["status"], "completed", "{a}");
    let at: chrono::DateTime<chrono::Utc> = a["verified_at"]
        .as_str()
        .expect("verified_at")
        .parse()
        .unwrap();
    let age = chrono::Utc::now() - at;
    assert!(
        age < chrono::Duration::seconds(30) && age > chrono::Duration::seconds(-5),
        "recent verified_at: {at}"
    );
}

pub async fn assert_not_verified(app: &TestApp, identity: &str) {
    let a = address_of(app, identity).await;
    assert_eq!(a["verified"], false, "{a}");
    assert!(a.get("verified_at").is_none_or(Value::is_null), "{a}");
}

// Messages.

/// The dev inbox's messages to `to`, newest first.
pub async fn inbox(app: &TestApp, to: &str) -> Vec<Value> {
    let resp = app
        .http
        .get(format!(
            "{}/admin/dev/inbox?recipient={}",
            app.admin,
            enc(to)
        ))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .expect("inbox");
    let list = json_with_status(resp, 200).await;
    list.as_array().expect("inbox list").clone()
}

/// Waits (at most 5 s) until `to` has at least `n` messages; returns them newest first.
pub async fn wait_messages(app: &TestApp, to: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let list = inbox(app, to).await;
        if list.len() >= n {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} messages to {to}, have {}",
            list.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The code of the newest message to `to`.
pub async fn inbox_code(app: &TestApp, to: &str) -> String {
    wait_messages(app, to, 1).await[0]["code"]
        .as_str()
        .expect("a code in the message")
        .to_owned()
}

/// The `token` of the verification link in the newest message to `to`.
pub async fn inbox_link(app: &TestApp, to: &str) -> (String, String) {
    let m = &wait_messages(app, to, 1).await[0];
    let body = m["body"].as_str().expect("body");
    let start = body
        .find("/self-service/verification?")
        .expect("a link in the body");
    let link: String = body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let url = url::Url::parse(&format!("http://x{link}")).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("{k} in {link}"))
    };
    (get("flow"), get("token"))
}

/// Every outbox message (any channel) to `to` that the courier sends or sent, through the
/// admin courier API; the decoys written for unknown addresses (see [`decoys`]) are left out.
pub async fn outbox(app: &TestApp, to: &str) -> Vec<Value> {
    let all = all_to(app, to).await;
    all.into_iter().filter(|m| !is_decoy(m)).collect()
}

/// The messages an unknown address did not get: composed like real ones, stored as
/// `abandoned` and never attempted.
pub async fn decoys(app: &TestApp, to: &str) -> Vec<Value> {
    all_to(app, to).await.into_iter().filter(is_decoy).collect()
}

fn is_decoy(m: &Value) -> bool {
    m["status"] == "abandoned" && m["send_count"] == 0
}

async fn all_to(app: &TestApp, to: &str) -> Vec<Value> {
    let resp = app
        .get_admin(&format!("/admin/courier/messages?recipient={}", enc(to)))
        .await;
    json_with_status(resp, 200)
        .await
        .as_array()
        .expect("list")
        .clone()
}

/// Every outbox message.
pub async fn outbox_all(app: &TestApp) -> Vec<Value> {
    let resp = app.get_admin("/admin/courier/messages").await;
    json_with_status(resp, 200)
        .await
        .as_array()
        .expect("list")
        .clone()
}

/// A code of the same shape that is not `code`.
pub fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap(),
            None => c,
        })
        .collect()
}

/// Replaces every occurrence of each `(from, to)` in the JSON text, then blanks the fields
/// that legitimately differ between two flows (timestamps, CSRF masks).
pub fn normalize(v: &Value, subs: &[(&str, &str)]) -> Value {
    let mut text = v.to_string();
    for (from, to) in subs {
        text = text.replace(from, to);
    }
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for k in ["issued_at", "expires_at"] {
        if v.get(k).is_some() {
            v[k] = json!("T");
        }
    }
    if let Some(nodes) = v["ui"]["nodes"].as_array_mut() {
        for n in nodes {
            if n["attributes"]["name"] == "csrf_token" {
                n["attributes"]["value"] = json!("CSRF");
            }
        }
    }
    v
}
