//! Helpers for the registration, login, settings and session tests: a client per request
//! kind (browser form posts, SPA JSON, native api) driving any self-service flow.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::verification_support::{Kind, Reply, form, jar};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct FlowClient {
    pub kind: Kind,
    pub http: reqwest::Client,
}

impl FlowClient {
    pub fn new(kind: Kind) -> Self {
        Self { kind, http: jar() }
    }

    /// Starts a `flow` (`registration`, `login`, `settings`) and returns its JSON.
    pub async fn init(&self, app: &TestApp, flow: &str) -> Value {
        self.init_with(app, flow, "").await
    }

    pub async fn init_with(&self, app: &TestApp, flow: &str, query: &str) -> Value {
        let reply = self.init_raw(app, flow, query).await;
        match self.kind {
            Kind::Browser => {
                assert_eq!(reply.status, 303, "browser init redirects: {reply:?}");
                let id = reply.redirect_flow_id().expect("flow id in Location");
                self.get(app, flow, &id).await
            }
            _ => {
                assert_eq!(reply.status, 200, "init answers the flow: {reply:?}");
                reply.body
            }
        }
    }

    pub async fn init_raw(&self, app: &TestApp, flow: &str, query: &str) -> Reply {
        let path = if self.kind == Kind::Api {
            "api"
        } else {
            "browser"
        };
        let mut req = self
            .http
            .get(format!("{}/self-service/{flow}/{path}{query}", app.public));
        if self.kind.is_json() {
            req = req.header(ACCEPT, "application/json");
        }
        Reply::read(req.send().await.expect("init")).await
    }

    /// The flow's JSON as the browser (with its cookies) may read it.
    pub async fn get(&self, app: &TestApp, flow: &str, id: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}/self-service/{flow}/flows?id={id}", app.public))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("get flow");
        let reply = Reply::read(resp).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body
    }

    /// Submits `body` (JSON object) to the flow, as this kind of client would: JSON for SPA
    /// and api, a form post for the browser. The flow's CSRF token is added for browsers.
    pub async fn submit(&self, app: &TestApp, flow_name: &str, flow: &Value, body: Value) -> Reply {
        self.submit_with(app, flow_name, flow, body, None).await
    }

    pub async fn submit_with(
        &self,
        app: &TestApp,
        flow_name: &str,
        flow: &Value,
        mut body: Value,
        session_token: Option<&str>,
    ) -> Reply {
        if self.kind != Kind::Api
            && let Some(csrf) = crate::verification_support::csrf_of(flow)
        {
            body["csrf_token"] = json!(csrf);
        }
        let url = format!(
            "{}/self-service/{flow_name}?flow={}",
            app.public,
            flow["id"].as_str().expect("flow id")
        );
        let mut req = self.http.post(url);
        if let Some(t) = session_token {
            req = req.header("X-Session-Token", t);
        }
        req = if self.kind.is_json() {
            req.header(ACCEPT, "application/json").json(&body)
        } else {
            let flat = flatten(&body);
            let pairs: Vec<(&str, &str)> =
                flat.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            req.header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&pairs))
        };
        Reply::read(req.send().await.expect("submit")).await
    }

    pub async fn whoami(&self, app: &TestApp, token: Option<&str>) -> Reply {
        let mut req = self
            .http
            .get(format!("{}/sessions/whoami", app.public))
            .header(ACCEPT, "application/json");
        if let Some(t) = token {
            req = req.header("X-Session-Token", t);
        }
        Reply::read(req.send().await.expect("whoami")).await
    }
}

/// `{"traits": {"email": "x"}}` → `traits.email=x`, as an HTML form posts it.
fn flatten(v: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// The body of a password registration.
pub fn sign_up(email: &str, password: &str) -> Value {
    json!({"method": "password", "password": password, "traits": {"email": email}})
}

pub fn sign_in(identifier: &str, password: &str) -> Value {
    json!({"method": "password", "identifier": identifier, "password": password})
}

/// Registers through the api flow; returns the response body.
pub async fn register(app: &TestApp, email: &str) -> Value {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "registration").await;
    let r = c
        .submit(app, "registration", &flow, sign_up(email, PASSWORD))
        .await;
    assert_eq!(r.status, 200, "registration: {r:?}");
    r.body
}

/// Registers and verifies the address with the emailed code; returns the identity id.
pub async fn register_verified(app: &TestApp, email: &str) -> String {
    let body = register(app, email).await;
    let vflow_id = body["continue_with"][0]["flow"]["id"]
        .as_str()
        .expect("verification flow")
        .to_owned();
    let code = crate::verification_support::inbox_code(app, email).await;
    let resp = app
        .http
        .post(format!(
            "{}/self-service/verification?flow={vflow_id}",
            app.public
        ))
        .header(ACCEPT, "application/json")
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .expect("verify");
    let reply = Reply::read(resp).await;
    assert_eq!(reply.body["state"], "passed_challenge", "{reply:?}");
    body["identity"]["id"].as_str().unwrap().to_owned()
}

/// Logs in through the api flow; returns the session token.
pub async fn login_token(app: &TestApp, identifier: &str) -> String {
    let c = FlowClient::new(Kind::Api);
    let flow = c.init(app, "login").await;
    let r = c
        .submit(app, "login", &flow, sign_in(identifier, PASSWORD))
        .await;
    assert_eq!(r.status, 200, "login: {r:?}");
    r.body["session_token"]
        .as_str()
        .expect("session token")
        .to_owned()
}
