//! Social sign-in in the registration and login flows, against a real OpenID provider
//! (tests/oidc): sign-up with carried-over verification, login, and the failure modes.

use serde_json::{Value, json};

use crate::auth_support::FlowClient;
use crate::helpers::{TestApp, spawn_with};
use crate::oidc_support::{OidcProvider, browser, login_via_provider, provider_available};
use crate::verification_support::{Kind, Reply, inbox, inbox_code, outbox};

const SECRET: &str = "client-secret-for-flow-tests-0123456789";

/// Ory's "carry over verified status" mapper, keeping the email in the traits either way.
const MAPPER: &str = r#"
local claims = { email_verified: false } + std.extVar('claims');
{
  identity: {
    traits: { email: claims.email },
    verified_addresses: std.prune([
      if 'email' in claims && claims.email_verified then { via: 'email', value: claims.email },
    ]),
  },
}
"#;

fn accounts(bob_verified: bool) -> Value {
    json!({
        "ada": {"email": "Ada@Example.com", "email_verified": true, "name": "Ada"},
        "bob": {"email": "bob@example.com", "email_verified": bob_verified, "name": "Bob"},
    })
}

struct Env {
    app: TestApp,
    op: Option<OidcProvider>,
    port: u16,
}

impl Env {
    fn client(&self) -> Value {
        let redirect = format!(
            "{}/self-service/methods/oidc/callback/acme",
            self.app.public
        );
        json!({"client_id": "verity", "client_secret": SECRET, "redirect_uris": [redirect]})
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replaces the provider (same issuer) with one whose accounts are `accounts`.
    async fn restart_provider(&mut self, accounts: Value) {
        self.op = None;
        // Its signing key is new: Verity must notice on its own.
        self.op = OidcProvider::start_on(self.port, accounts, self.client()).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The app (provider `acme` with `mapper`) and the provider; `None` when node is missing.
async fn setup(mapper: &str) -> Option<Env> {
    if !provider_available() {
        return None;
    }
    use base64::Engine as _;
    let mapper_url = format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(mapper)
    );
    // The app must know the provider's port before the provider knows the app's; a port
    // picked free can be taken by a parallel test before node binds it, so try again.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port();
        let app = spawn_with(|s| {
            s.selfservice.methods.oidc.enabled = true;
            s.selfservice.methods.oidc.config.providers = vec![
                serde_json::from_value(json!({
                    "id": "acme", "provider": "generic", "label": "Acme", "client_id": "verity",
                    "client_secret": SECRET, "issuer_url": format!("http://127.0.0.1:{port}"),
                    "scope": ["openid", "email", "profile"], "mapper_url": mapper_url,
                }))
                .unwrap(),
            ];
        })
        .await;
        let mut env = Env {
            app,
            op: None,
            port,
        };
        match OidcProvider::try_start_on(port, accounts(false), env.client()).await {
            Ok(op) => {
                assert_eq!(op.issuer, env.issuer());
                env.op = Some(op);
                return Some(env);
            }
            Err(e) => last_error = e,
        }
    }
    panic!("{last_error}");
}

/// Starts a browser `flow` with the `acme` button; returns the flow and the provider URL.
async fn start(env: &Env, c: &FlowClient, flow_name: &str) -> (Value, String) {
    let flow = c.init(&env.app, flow_name).await;
    let r = c
        .submit(&env.app, flow_name, &flow, json!({"provider": "acme"}))
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    let to = r.location().unwrap().to_owned();
    assert!(to.starts_with(&env.issuer()), "{to}");
    (flow, to)
}

async fn get(c: &FlowClient, url: &str) -> Reply {
    Reply::read(c.http.get(url).send().await.unwrap()).await
}

/// The whole round trip as `account`: the answer of Verity's callback.
async fn social(env: &Env, c: &FlowClient, flow_name: &str, account: &str) -> Reply {
    let (_, url) = start(env, c, flow_name).await;
    let callback = login_via_provider(&browser(), &url, account).await;
    get(c, &callback).await
}

async fn identities(app: &TestApp) -> Vec<Value> {
    let r = app.get_admin("/admin/identities").await;
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// The messages of the flow a 303 points at.
async fn flow_messages(env: &Env, c: &FlowClient, flow_name: &str, r: &Reply) -> Value {
    let id = r.redirect_flow_id().unwrap_or_else(|| panic!("{r:?}"));
    c.get(&env.app, flow_name, &id).await["ui"]["messages"].clone()
}

/// A browser was sent to the error UI or shown the error page itself.
fn assert_error_page(r: &Reply) {
    let html = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    match r.status {
        303 => assert!(r.location().unwrap().contains("error"), "{r:?}"),
        _ => assert!(r.status >= 400 && html, "{r:?}"),
    }
}

fn has_session_cookie(r: &Reply) -> bool {
    r.cookie_names().iter().any(|n| n == "ory_kratos_session")
}

#[tokio::test]
async fn a_verified_email_signs_up_verified_without_a_message() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let flow = c.init(&env.app, "registration").await;
    let button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["group"] == "oidc")
        .expect("a provider button")
        .clone();
    assert_eq!(button["attributes"]["name"], "provider");
    assert_eq!(button["attributes"]["value"], "acme");
    assert_eq!(button["meta"]["label"]["id"], 1040002);
    assert_eq!(button["meta"]["label"]["text"], "Sign up with Acme");

    let r = social(&env, &c, "registration", "ada").await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(has_session_cookie(&r), "{r:?}");
    let who = c.whoami(&env.app, None).await;
    assert_eq!(who.status, 200, "{who:?}");
    let list = identities(&env.app).await;
    assert_eq!(list.len(), 1);
    let address = &list[0]["verifiable_addresses"][0];
    assert_eq!(address["value"], "ada@example.com");
    assert_eq!(address["verified"], true);
    assert_eq!(address["status"], "completed");
    assert!(outbox(&env.app, "ada@example.com").await.is_empty());
    assert!(inbox(&env.app, "ada@example.com").await.is_empty());
}

#[tokio::test]
async fn an_unverified_email_gets_a_code_and_login_waits_until_the_provider_vouches() {
    let Some(mut env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let r = social(&env, &c, "registration", "bob").await;
    assert_eq!(r.status, 303, "{r:?}");
    let list = identities(&env.app).await;
    assert_eq!(list[0]["verifiable_addresses"][0]["verified"], false);
    assert_eq!(list[0]["verifiable_addresses"][0]["status"], "sent");
    assert_eq!(inbox_code(&env.app, "bob@example.com").await.len(), 6);

    let later = FlowClient::new(Kind::Browser);
    let r = social(&env, &later, "login", "bob").await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(r.location().unwrap().contains("verification"), "{r:?}");
    assert!(!has_session_cookie(&r), "{r:?}");

    env.restart_provider(accounts(true)).await;
    let again = FlowClient::new(Kind::Browser);
    let r = social(&env, &again, "login", "bob").await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(has_session_cookie(&r), "{r:?}");
    assert_eq!(again.whoami(&env.app, None).await.status, 200);
    let list = identities(&env.app).await;
    assert_eq!(list.len(), 1, "the login created no identity");
    assert_eq!(list[0]["verifiable_addresses"][0]["verified"], true);
    assert_eq!(list[0]["verifiable_addresses"][0]["status"], "completed");
}

#[tokio::test]
async fn a_failing_mapper_is_a_flow_message_and_creates_nothing() {
    let Some(env) = setup("error 'the mapper refuses'").await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let r = social(&env, &c, "registration", "ada").await;
    assert_eq!(r.status, 303, "{r:?}");
    let messages = flow_messages(&env, &c, "registration", &r).await;
    assert_eq!(messages[0]["id"], 4000001, "{messages}");
    let text = messages[0]["text"].as_str().unwrap();
    assert!(text.contains("could not be used"), "{messages}");
    assert!(!text.contains("the mapper refuses"), "{messages}");
    assert!(identities(&env.app).await.is_empty());
}

#[tokio::test]
async fn a_tampered_state_is_a_clear_error_and_creates_nothing() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = login_via_provider(&browser(), &url, "ada").await;
    let mut u = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let r = Reply::read(
        c.http
            .get(u.as_str())
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("tampered")
    );
    // Browsers see the error page: sent there, or shown it at once.
    let browser_reply = get(&c, u.as_str()).await;
    assert_error_page(&browser_reply);
    assert!(identities(&env.app).await.is_empty());
}

#[tokio::test]
async fn a_replayed_code_is_a_flow_error() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = login_via_provider(&browser(), &url, "ada").await;
    assert_eq!(get(&c, &callback).await.status, 303);
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // The same browser starts again and the old code is slipped into the new callback.
    let other = FlowClient::new(Kind::Browser);
    let (_, url2) = start(&env, &other, "login").await;
    let state2 = url::Url::parse(&url2)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut replay = url::Url::parse(&callback).unwrap();
    replay
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", &state2);
    let r = get(&other, replay.as_str()).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!has_session_cookie(&r));
    let messages = flow_messages(&env, &other, "login", &r).await;
    assert_eq!(messages[0]["id"], 4000001, "{messages}");
    assert_eq!(identities(&env.app).await.len(), 1);
}

#[tokio::test]
async fn a_provider_that_went_down_is_a_flow_error() {
    let Some(mut env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = login_via_provider(&browser(), &url, "ada").await;
    env.op = None;
    let r = get(&c, &callback).await;
    assert_eq!(r.status, 303, "{r:?}");
    let messages = flow_messages(&env, &c, "registration", &r).await;
    assert_eq!(messages[0]["id"], 4000001, "{messages}");
    assert!(
        messages[0]["text"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{messages}"
    );
    assert!(identities(&env.app).await.is_empty());
}

#[tokio::test]
async fn an_existing_password_account_with_the_email_is_not_taken_over() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    env.app
        .create_identity(&json!({
            "schema_id": "default",
            "traits": {"email": "ada@example.com"},
            "credentials": {"password": {"config": {"password": crate::auth_support::PASSWORD}}},
        }))
        .await;
    for flow_name in ["registration", "login"] {
        let c = FlowClient::new(Kind::Browser);
        let r = social(&env, &c, flow_name, "ada").await;
        assert_eq!(r.status, 303, "{r:?}");
        assert!(!has_session_cookie(&r), "{r:?}");
        let messages = flow_messages(&env, &c, "registration", &r).await;
        assert_eq!(messages[0]["id"], 4000028, "{messages}");
        assert!(
            messages[0]["text"]
                .as_str()
                .unwrap()
                .contains("ada@example.com"),
            "{messages}"
        );
        let context = &messages[0]["context"];
        let kinds = context["available_credential_types"].as_array().unwrap();
        assert!(kinds.contains(&json!("password")), "{messages}");
        assert!(!kinds.contains(&json!("oidc")), "{messages}");
    }
    let list = identities(&env.app).await;
    assert_eq!(list.len(), 1);
    let creds = list[0]["credentials"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!creds.contains_key("oidc"), "{creds:?}");
}

#[tokio::test]
async fn api_flows_cannot_use_social_sign_in_and_spas_are_told_where_to_go() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let api = FlowClient::new(Kind::Api);
    let flow = api.init(&env.app, "login").await;
    let r = api
        .submit(
            &env.app,
            "login",
            &flow,
            json!({"method": "oidc", "provider": "acme"}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.body["ui"]["messages"][0]["id"], 4000001);

    let spa = FlowClient::new(Kind::Spa);
    let flow = spa.init(&env.app, "login").await;
    let r = spa
        .submit(
            &env.app,
            "login",
            &flow,
            json!({"method": "oidc", "provider": "acme"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.error_id(), Some("browser_location_change_required"));
    let to = r.body["redirect_browser_to"].as_str().unwrap();
    assert!(to.starts_with(&env.issuer()), "{to}");
    assert!(
        !r.body.to_string().contains("pkce"),
        "no secrets in the answer"
    );
}

/// Signs `c` in with a password as a new identity `email`; returns the identity id.
async fn password_session(env: &Env, c: &FlowClient, email: &str) -> String {
    let created = env
        .app
        .create_identity(&json!({
            "schema_id": "default",
            "traits": {"email": email},
            "credentials": {"password": {"config": {"password": crate::auth_support::PASSWORD}}},
            "verifiable_addresses": [{"value": email, "via": "email", "verified": true, "status": "completed"}],
        }))
        .await;
    let flow = c.init(&env.app, "login").await;
    let r = c
        .submit(
            &env.app,
            "login",
            &flow,
            crate::auth_support::sign_in(email, crate::auth_support::PASSWORD),
        )
        .await;
    assert!(has_session_cookie(&r), "{r:?}");
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refresh_flow_never_signs_up_a_new_account() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let carol = password_session(&env, &c, "carol@example.com").await;

    // The refresh UI has no provider buttons, and the method is refused.
    let refresh = c.init_with(&env.app, "login", "?refresh=true").await;
    assert_eq!(refresh["refresh"], true);
    assert!(!refresh.to_string().contains("\"oidc\""), "{refresh}");
    let r = c
        .submit(&env.app, "login", &refresh, json!({"provider": "acme"}))
        .await;
    assert!(
        !r.location().unwrap_or_default().starts_with(&env.issuer()),
        "{r:?}"
    );
    let id = refresh["id"].as_str().unwrap();
    let messages = c.get(&env.app, "login", id).await["ui"]["messages"].clone();
    assert_eq!(messages[0]["id"], 4010002, "{messages}");

    // A flow that re-authenticates carol, returning with a subject nobody has: no account.
    let other = FlowClient::new(Kind::Browser);
    let (flow, url) = start(&env, &other, "login").await;
    let store = env.app.store();
    let flow_id = uuid::Uuid::parse_str(flow["id"].as_str().unwrap()).unwrap();
    let mut stored = store.get_flow("login", flow_id).await.unwrap().unwrap();
    stored.identity_id = Some(uuid::Uuid::parse_str(&carol).unwrap());
    assert!(
        store
            .update_flow(&stored, chrono::Utc::now())
            .await
            .unwrap()
    );
    let callback = login_via_provider(&browser(), &url, "bob").await;
    let r = get(&other, &callback).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!has_session_cookie(&r), "{r:?}");
    let list = identities(&env.app).await;
    assert_eq!(list.len(), 1, "{list:?}");
}

#[tokio::test]
async fn a_state_is_consumed_once_even_by_concurrent_callbacks() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = login_via_provider(&browser(), &url, "ada").await;
    let (a, b) = tokio::join!(get(&c, &callback), get(&c, &callback));
    let signed_in = [&a, &b].iter().filter(|r| has_session_cookie(r)).count();
    assert_eq!(signed_in, 1, "{a:?}\n{b:?}");
    assert_eq!(identities(&env.app).await.len(), 1);
}

#[tokio::test]
async fn a_form_post_callback_continues_as_a_get() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = url::Url::parse(&login_via_provider(&browser(), &url, "ada").await).unwrap();
    let form = callback.query().unwrap().to_owned();
    let mut target = callback.clone();
    target.set_query(None);
    // A cross-site POST: no cookies.
    let r = Reply::read(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(target.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!has_session_cookie(&r), "{r:?}");
    let next = target.join(r.location().unwrap()).unwrap();
    assert_eq!(next.path(), target.path());
    let params: std::collections::HashMap<_, _> = next.query_pairs().into_owned().collect();
    let expected: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
    assert_eq!(params["state"], expected["state"]);
    assert_eq!(params["code"], expected["code"]);

    let r = get(&c, next.as_str()).await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(has_session_cookie(&r), "{r:?}");
    assert_eq!(identities(&env.app).await.len(), 1);
}

#[tokio::test]
async fn a_callback_without_the_csrf_cookie_is_an_error_page_for_browsers() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    let c = FlowClient::new(Kind::Browser);
    let (_, url) = start(&env, &c, "registration").await;
    let callback = login_via_provider(&browser(), &url, "ada").await;
    let victim = FlowClient::new(Kind::Browser);
    let r = get(&victim, &callback).await;
    assert_error_page(&r);
    assert!(!has_session_cookie(&r), "{r:?}");
    let api = Reply::read(
        victim
            .http
            .get(&callback)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(api.status, 403, "{api:?}");
    assert_eq!(api.error_id(), Some("security_csrf_violation"));
    assert!(identities(&env.app).await.is_empty());
}

#[tokio::test]
async fn an_address_the_provider_does_not_vouch_for_is_not_named() {
    let Some(env) = setup(MAPPER).await else {
        return;
    };
    env.app
        .create_identity(&json!({
            "schema_id": "default",
            "traits": {"email": "bob@example.com"},
            "credentials": {"password": {"config": {"password": crate::auth_support::PASSWORD}}},
        }))
        .await;
    let c = FlowClient::new(Kind::Browser);
    let r = social(&env, &c, "registration", "bob").await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(!has_session_cookie(&r), "{r:?}");
    let messages = flow_messages(&env, &c, "registration", &r).await;
    assert_eq!(messages[0]["id"], 4000007, "{messages}");
    assert!(
        !messages.to_string().contains("bob@example.com"),
        "{messages}"
    );
    assert_eq!(identities(&env.app).await.len(), 1);
}
