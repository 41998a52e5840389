//! Helpers for the phone-verification API tests: an app whose sms and voice channels are the
//! Twilio preset pointed at a wiremock server, API keys, and reading codes at the gateway.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use verity::config::Settings;
use verity::courier::Worker;

use crate::helpers::{TestApp, json_with_status, spawn_with};

pub struct Phone {
    pub app: TestApp,
    pub gateway: MockServer,
}

pub struct Key {
    pub id: uuid::Uuid,
    pub key: String,
    pub secret: String,
}

pub async fn spawn_phone(tweak: impl FnOnce(&mut Settings)) -> Phone {
    let gateway = gateway().await;
    let settings = phone_settings(&gateway);
    let app = spawn_with(|s| {
        settings(s);
        tweak(s);
    })
    .await;
    Phone { app, gateway }
}

/// `spawn_phone` on a fresh schema of the test Postgres; `None` when there is none.
pub async fn spawn_phone_postgres(tweak: impl FnOnce(&mut Settings)) -> Option<Phone> {
    let gateway = gateway().await;
    let settings = phone_settings(&gateway);
    let app = crate::helpers::spawn_postgres_with(|s| {
        settings(s);
        tweak(s);
    })
    .await?;
    Some(Phone { app, gateway })
}

async fn gateway() -> MockServer {
    let gateway = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2010-04-01/Accounts/AC123/(Messages|Calls)\.json$",
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1", "status": "queued"})),
        )
        .mount(&gateway)
        .await;
    gateway
}

/// The sms and voice channels as the Twilio preset at `gateway`, no worker, no fallback polls.
fn phone_settings(gateway: &MockServer) -> impl FnOnce(&mut Settings) {
    let preset = |id: &str| {
        json!({"id": id, "type": "http", "preset": {"provider": "twilio", "account_sid": "AC123",
        "auth_token": "tw-token", "from": "+15550001111", "base_url": gateway.uri()}})
    };
    let channels = json!([preset("sms"), preset("voice")]);
    move |s: &mut Settings| {
        s.courier.worker.enabled = false;
        s.phone_verification.voice_fallback.poll_interval =
            verity::config::GoDuration::from_secs(3600);
        s.courier.channels = serde_json::from_value(channels).unwrap();
    }
}

impl Phone {
    pub async fn key(&self, credits: i64) -> Key {
        let resp = self
            .app
            .post_admin(
                "/admin/api-keys",
                &json!({"name": "partner", "credits": credits}),
            )
            .await;
        let v = json_with_status(resp, 201).await;
        Key {
            id: v["id"].as_str().unwrap().parse().unwrap(),
            key: v["key"].as_str().unwrap().to_owned(),
            secret: v["secret"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn post(&self, path: &str, key: Option<&Key>, body: &Value) -> reqwest::Response {
        let mut req = self
            .app
            .http
            .post(format!("{}{path}", self.app.public))
            .json(body);
        if let Some(k) = key {
            req = req.basic_auth(&k.key, Some(&k.secret));
        }
        req.send().await.expect("request")
    }

    /// Delivers queued messages at `now` and answers the bodies that reached the gateway
    /// since the last call, as (endpoint, text): `Body` for SMS, `Twiml` for calls.
    pub async fn deliver(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let before = self.gateway.received_requests().await.unwrap().len();
        Worker::new(self.app.registry.courier.clone(), self.app.store().clone())
            .dispatch_once(now)
            .await
            .unwrap();
        let reqs = self.gateway.received_requests().await.unwrap();
        reqs[before..]
            .iter()
            .map(|r| {
                let form: Vec<(String, String)> =
                    url::form_urlencoded::parse(&r.body).into_owned().collect();
                let get = |k: &str| {
                    form.iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                if r.url.path().ends_with("Calls.json") {
                    ("call".into(), get("Twiml"))
                } else {
                    ("sms".into(), get("Body"))
                }
            })
            .collect()
    }

    pub async fn credits(&self, id: uuid::Uuid) -> i64 {
        let keys = self.app.store().list_api_keys().await.unwrap();
        keys.iter().find(|k| k.id == id).unwrap().credits
    }

    pub async fn outbox_len(&self) -> usize {
        self.app
            .store()
            .list_messages(&Default::default(), None, 500)
            .await
            .map(|p| p.messages.len())
            .unwrap()
    }
}

/// The 4 digits in "<sender> code: 1234. ..." or in a call's spelled "1 2 3 4".
pub fn code_in(text: &str) -> String {
    let start = text.find("code: ").or(text.find("code is: ")).unwrap();
    let tail = &text[start..];
    tail.chars().filter(char::is_ascii_digit).take(4).collect()
}
