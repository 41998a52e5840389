//! Every route Verity serves, as one table: the OpenAPI document is built from it, the 405
//! fallback reads `Allow` from it, and `tests/api/openapi.rs` checks it against the routers.
//!
//! Admin routes are listed under `/admin/...`; the admin port also answers each of them without
//! the prefix, as Kratos does (see [`admin_alias`]).

use super::Api::{self, Admin, Both, Public};

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// JSON matching a component schema.
    Json(&'static str),
    /// A JSON array of a component schema.
    List(&'static str),
    /// A server-rendered page.
    Html,
    /// Plain text (the Prometheus exposition format, the stylesheet).
    Text(&'static str),
    /// No body.
    Empty,
    /// A redirect (303 for browsers, 307 from the admin port).
    Redirect,
}

/// What a request carries in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// JSON, matching a component schema.
    Json(&'static str),
    /// JSON or an HTML form post, matching a component schema (the self-service submissions).
    JsonOrForm(&'static str),
    /// A JSON Patch document.
    JsonPatch,
}

#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub api: Api,
    pub id: &'static str,
    pub summary: &'static str,
    /// Query parameters, by name (see `super::document::query_param`).
    pub query: &'static [&'static str],
    pub body: Body,
    pub replies: &'static [(u16, Reply)],
    /// The route is being added on another branch: documented now, not yet required to exist.
    pub pending: bool,
    /// The route answers every method (the admin port's 307s to the public port).
    pub any_method: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    api: Api,
    id: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        api,
        id,
        summary,
        query: &[],
        body: Body::None,
        replies: &[],
        pending: false,
        any_method: false,
    }
}

impl Op {
    const fn query(mut self, q: &'static [&'static str]) -> Self {
        self.query = q;
        self
    }
    const fn body(mut self, b: Body) -> Self {
        self.body = b;
        self
    }
    const fn replies(mut self, r: &'static [(u16, Reply)]) -> Self {
        self.replies = r;
        self
    }
    const fn pending(mut self) -> Self {
        self.pending = true;
        self
    }
    const fn any_method(mut self) -> Self {
        self.any_method = true;
        self
    }
}

use Body::{Json as JsonBody, JsonOrForm, JsonPatch};
use Reply::{Empty, Html, Json, List, Redirect, Text};

const FLOW_INIT: &[&str] = &["return_to"];
const BROWSER_INIT: &[(u16, Reply)] = &[(200, Json("flow")), (303, Redirect)];
const SUBMIT: &[&str] = &["flow"];
const FLOW_READ: &[&str] = &["id"];

/// Answers of a self-service flow's endpoints, by kind.
macro_rules! self_service {
    ($kind:literal, $flow:literal, $init_browser:literal, $init_api:literal, $get:literal, $update:literal, $submit_body:literal, $done:literal) => {
        [
            op(
                "GET",
                concat!("/self-service/", $kind, "/browser"),
                Public,
                $init_browser,
                concat!("Start a ", $kind, " flow for browsers"),
            )
            .query(FLOW_INIT)
            .replies(BROWSER_INIT),
            op(
                "GET",
                concat!("/self-service/", $kind, "/api"),
                Public,
                $init_api,
                concat!("Start a ", $kind, " flow for native apps"),
            )
            .query(FLOW_INIT)
            .replies(&[(200, Json($flow))]),
            op(
                "GET",
                concat!("/self-service/", $kind, "/flows"),
                Public,
                $get,
                concat!("Read a ", $kind, " flow"),
            )
            .query(FLOW_READ)
            .replies(&[(200, Json($flow))]),
            op(
                "POST",
                concat!("/self-service/", $kind),
                Public,
                $update,
                concat!("Submit a ", $kind, " flow"),
            )
            .query(SUBMIT)
            .body(JsonOrForm($submit_body))
            .replies(&[(200, Json($done)), (303, Redirect)]),
        ]
    };
}

const VERIFICATION: [Op; 4] = self_service!(
    "verification",
    "flow",
    "createBrowserVerificationFlow",
    "createNativeVerificationFlow",
    "getVerificationFlow",
    "updateVerificationFlow",
    "updateVerificationFlowBody",
    "flow"
);
const REGISTRATION: [Op; 4] = self_service!(
    "registration",
    "flow",
    "createBrowserRegistrationFlow",
    "createNativeRegistrationFlow",
    "getRegistrationFlow",
    "updateRegistrationFlow",
    "updateRegistrationFlowBody",
    "successfulNativeRegistration"
);
const LOGIN: [Op; 4] = self_service!(
    "login",
    "flow",
    "createBrowserLoginFlow",
    "createNativeLoginFlow",
    "getLoginFlow",
    "updateLoginFlow",
    "updateLoginFlowBody",
    "successfulNativeLogin"
);
const SETTINGS: [Op; 4] = self_service!(
    "settings",
    "flow",
    "createBrowserSettingsFlow",
    "createNativeSettingsFlow",
    "getSettingsFlow",
    "updateSettingsFlow",
    "updateSettingsFlowBody",
    "flow"
);
const RECOVERY: [Op; 4] = self_service!(
    "recovery",
    "flow",
    "createBrowserRecoveryFlow",
    "createNativeRecoveryFlow",
    "getRecoveryFlow",
    "updateRecoveryFlow",
    "updateRecoveryFlowBody",
    "flow"
);

const OTHERS: &[Op] = &[
    op(
        "GET",
        "/health/alive",
        Both,
        "isAlive",
        "Whether the process answers",
    )
    .replies(&[(200, Json("healthStatus"))]),
    op(
        "GET",
        "/health/ready",
        Both,
        "isReady",
        "Whether the database answers",
    )
    .replies(&[
        (200, Json("healthStatus")),
        (503, Json("healthNotReadyStatus")),
    ]),
    op("GET", "/version", Both, "getVersion", "The running version")
        .replies(&[(200, Json("version"))]),
    op(
        "GET",
        "/schemas",
        Public,
        "listIdentitySchemas",
        "The identity schemas",
    )
    .query(&["page_size", "page_token"])
    .replies(&[(200, List("identitySchemaContainer"))]),
    op(
        "GET",
        "/schemas/{id}",
        Public,
        "getIdentitySchema",
        "One identity schema",
    )
    .replies(&[(200, Json("identitySchema"))]),
    op(
        "GET",
        "/self-service/errors",
        Both,
        "getFlowError",
        "A stored self-service error",
    )
    .query(&["id"])
    .replies(&[(200, Json("flowError"))]),
    op(
        "GET",
        "/self-service/verification",
        Public,
        "openVerificationLink",
        "Open a verification link (fills the form in; a link token is used at once)",
    )
    .query(&["flow", "code", "token"])
    .replies(&[(200, Json("flow")), (303, Redirect)]),
    op(
        "GET",
        "/self-service/methods/oidc/callback/{provider}",
        Public,
        "oidcCallbackGet",
        "Where the OpenID provider sends the browser back",
    )
    .query(&["code", "state", "error"])
    .replies(&[(303, Redirect)]),
    op(
        "POST",
        "/self-service/methods/oidc/callback/{provider}",
        Public,
        "oidcCallbackPost",
        "The provider's form_post answer",
    )
    .body(JsonOrForm("oidcCallbackBody"))
    .replies(&[(303, Redirect)]),
    op(
        "GET",
        "/sessions/whoami",
        Public,
        "toSession",
        "The caller's session",
    )
    .query(&["tokenize_as"])
    .replies(&[(200, Json("session"))]),
    op(
        "GET",
        "/sessions",
        Public,
        "listMySessions",
        "The caller's other sessions",
    )
    .query(&["page_size", "page_token"])
    .replies(&[(200, List("session"))]),
    op(
        "DELETE",
        "/sessions",
        Public,
        "disableMyOtherSessions",
        "End the caller's other sessions",
    )
    .replies(&[(200, Json("deleteMySessionsCount"))]),
    op(
        "DELETE",
        "/sessions/{id}",
        Public,
        "disableMySession",
        "End one of the caller's other sessions",
    )
    .replies(&[(204, Empty)]),
    op(
        "GET",
        "/self-service/logout/browser",
        Public,
        "createBrowserLogoutFlow",
        "A logout URL for the browser's session",
    )
    .query(&["return_to"])
    .replies(&[(200, Json("logoutFlow"))]),
    op(
        "GET",
        "/self-service/logout",
        Public,
        "updateLogoutFlow",
        "Log the browser out",
    )
    .query(&["token", "return_to"])
    .replies(&[(204, Empty), (303, Redirect)]),
    op(
        "DELETE",
        "/self-service/logout/api",
        Public,
        "performNativeLogout",
        "End a session token",
    )
    .body(JsonBody("performNativeLogoutBody"))
    .replies(&[(204, Empty)]),
    op(
        "POST",
        "/fraud/send-sms",
        Public,
        "sendSms",
        "Send a phone-verification code (partner API)",
    )
    .body(JsonBody("sendSmsBody"))
    .replies(&[(200, Json("sendSmsResponse"))]),
    op(
        "POST",
        "/fraud/verify-sms",
        Public,
        "verifySms",
        "Check a phone-verification code (partner API)",
    )
    .body(JsonBody("verifySmsBody"))
    .replies(&[(200, Json("verifySmsResponse"))]),
    op(
        "GET",
        "/ui",
        Public,
        "uiHome",
        "Built-in page: who is signed in",
    )
    .replies(&[(200, Html)]),
    op(
        "GET",
        "/ui/",
        Public,
        "uiHomeSlash",
        "Built-in page: who is signed in",
    )
    .replies(&[(200, Html)]),
    op(
        "GET",
        "/ui/verification",
        Public,
        "uiVerification",
        "Built-in page: verification",
    )
    .query(&["flow", "return_to"])
    .replies(&[(200, Html), (303, Redirect)]),
    op(
        "GET",
        "/ui/login",
        Public,
        "uiLogin",
        "Built-in page: sign in",
    )
    .query(&["flow", "return_to"])
    .replies(&[(200, Html), (303, Redirect)]),
    op(
        "GET",
        "/ui/registration",
        Public,
        "uiRegistration",
        "Built-in page: sign up",
    )
    .query(&["flow", "return_to"])
    .replies(&[(200, Html), (303, Redirect)]),
    op(
        "GET",
        "/ui/settings",
        Public,
        "uiSettings",
        "Built-in page: settings",
    )
    .query(&["flow", "return_to"])
    .replies(&[(200, Html), (303, Redirect)]),
    op(
        "GET",
        "/ui/error",
        Public,
        "uiError",
        "Built-in page: a self-service error",
    )
    .query(&["id"])
    .replies(&[(200, Html)]),
    op(
        "GET",
        "/ui/static/verity.css",
        Public,
        "uiStylesheet",
        "The built-in pages' stylesheet",
    )
    .replies(&[(200, Text("text/css"))]),
    // Admin.
    op(
        "GET",
        "/admin/identities",
        Admin,
        "listIdentities",
        "List identities",
    )
    .query(&[
        "page_size",
        "page_token",
        "page",
        "per_page",
        "credentials_identifier",
        "include_credential",
    ])
    .replies(&[(200, List("identity"))]),
    op(
        "POST",
        "/admin/identities",
        Admin,
        "createIdentity",
        "Create an identity",
    )
    .body(JsonBody("createIdentityBody"))
    .replies(&[(201, Json("identity"))]),
    op(
        "PATCH",
        "/admin/identities",
        Admin,
        "batchPatchIdentities",
        "Create or delete identities in bulk",
    )
    .body(JsonBody("patchIdentitiesBody"))
    .replies(&[(200, Json("batchPatchIdentitiesResponse"))])
    .pending(),
    op(
        "GET",
        "/admin/identities/{id}",
        Admin,
        "getIdentity",
        "Read an identity",
    )
    .query(&["include_credential"])
    .replies(&[(200, Json("identity"))]),
    op(
        "PUT",
        "/admin/identities/{id}",
        Admin,
        "updateIdentity",
        "Replace an identity",
    )
    .body(JsonBody("updateIdentityBody"))
    .replies(&[(200, Json("identity"))]),
    op(
        "PATCH",
        "/admin/identities/{id}",
        Admin,
        "patchIdentity",
        "Change an identity with a JSON Patch",
    )
    .body(JsonPatch)
    .replies(&[(200, Json("identity"))]),
    op(
        "DELETE",
        "/admin/identities/{id}",
        Admin,
        "deleteIdentity",
        "Delete an identity",
    )
    .replies(&[(204, Empty)]),
    op(
        "DELETE",
        "/admin/identities/{id}/credentials/{type}",
        Admin,
        "deleteIdentityCredentials",
        "Remove one credential of an identity",
    )
    .replies(&[(200, Json("identity")), (204, Empty)])
    .pending(),
    op(
        "GET",
        "/admin/identities/{id}/sessions",
        Admin,
        "listIdentitySessions",
        "An identity's sessions",
    )
    .query(&["page_size", "page_token", "active"])
    .replies(&[(200, List("session"))]),
    op(
        "DELETE",
        "/admin/identities/{id}/sessions",
        Admin,
        "deleteIdentitySessions",
        "End every session of an identity",
    )
    .replies(&[(204, Empty)]),
    op(
        "GET",
        "/admin/sessions",
        Admin,
        "listSessions",
        "All sessions",
    )
    .query(&["page_size", "page_token", "active", "expand"])
    .replies(&[(200, List("session"))])
    .pending(),
    op(
        "GET",
        "/admin/sessions/{id}",
        Admin,
        "getSession",
        "Read a session",
    )
    .query(&["expand"])
    .replies(&[(200, Json("session"))]),
    op(
        "DELETE",
        "/admin/sessions/{id}",
        Admin,
        "disableSession",
        "End a session",
    )
    .replies(&[(204, Empty)]),
    op(
        "PATCH",
        "/admin/sessions/{id}/extend",
        Admin,
        "extendSession",
        "Extend a session",
    )
    .replies(&[(200, Json("session"))]),
    op(
        "GET",
        "/admin/courier/messages",
        Admin,
        "listCourierMessages",
        "The courier's messages",
    )
    .query(&["page_size", "page_token", "status", "recipient"])
    .replies(&[(200, List("message"))]),
    op(
        "GET",
        "/admin/courier/messages/{id}",
        Admin,
        "getCourierMessage",
        "One message and its dispatches",
    )
    .replies(&[(200, Json("message"))]),
    op(
        "POST",
        "/admin/recovery/code",
        Admin,
        "createRecoveryCodeForIdentity",
        "A recovery code for an identity",
    )
    .body(JsonBody("createRecoveryCodeForIdentityBody"))
    .replies(&[(201, Json("recoveryCodeForIdentity"))])
    .pending(),
    op(
        "POST",
        "/admin/recovery/link",
        Admin,
        "createRecoveryLinkForIdentity",
        "A recovery link for an identity",
    )
    .body(JsonBody("createRecoveryLinkForIdentityBody"))
    .replies(&[(200, Json("recoveryLinkForIdentity"))])
    .pending(),
    op(
        "GET",
        "/admin/api-keys",
        Admin,
        "listApiKeys",
        "Partner API keys",
    )
    .replies(&[(200, List("apiKey"))]),
    op(
        "POST",
        "/admin/api-keys",
        Admin,
        "createApiKey",
        "Create a partner API key (the secret is shown once)",
    )
    .body(JsonBody("createApiKeyBody"))
    .replies(&[(201, Json("apiKey"))]),
    op(
        "DELETE",
        "/admin/api-keys/{id}",
        Admin,
        "revokeApiKey",
        "Revoke a partner API key",
    )
    .replies(&[(204, Empty)]),
    op(
        "POST",
        "/admin/api-keys/{id}/credits",
        Admin,
        "topUpApiKey",
        "Add credits to a partner API key",
    )
    .body(JsonBody("topUpBody"))
    .replies(&[(200, Json("apiKey"))]),
    op(
        "GET",
        "/admin/phone-verifications",
        Admin,
        "listPhoneVerifications",
        "Partner phone verifications",
    )
    .query(&["page_size", "page_token"])
    .replies(&[(200, List("phoneVerification"))]),
    op(
        "GET",
        "/admin/dev/inbox",
        Admin,
        "devInbox",
        "The dev inbox (only with --dev)",
    )
    .replies(&[(200, Html)]),
    op(
        "GET",
        "/admin/dev/inbox.json",
        Admin,
        "devInboxJson",
        "The dev inbox as JSON (only with --dev)",
    )
    .replies(&[(200, List("devMessage"))]),
    op(
        "GET",
        "/admin/self-service/errors",
        Admin,
        "getFlowErrorAdmin",
        "A stored self-service error",
    )
    .query(&["id"])
    .replies(&[(200, Json("flowError"))]),
    op("GET", "/metrics", Admin, "metrics", "Prometheus metrics")
        .replies(&[(200, Text("text/plain"))]),
    op(
        "GET",
        "/metrics/prometheus",
        Admin,
        "metricsPrometheus",
        "Prometheus metrics (Kratos's path)",
    )
    .replies(&[(200, Text("text/plain"))]),
    op("GET", "/openapi.json", Admin, "openapi", "This document")
        .replies(&[(200, Json("openapiDocument"))]),
];

/// The admin port sends the verification flow's public paths to the public port (307), for
/// every method, as Kratos does.
const ADMIN_REDIRECTS: &[Op] = &[
    op(
        "GET",
        "/self-service/verification",
        Admin,
        "adminRedirectVerification",
        "Redirect to the public port",
    )
    .replies(&[(307, Redirect)])
    .any_method(),
    op(
        "GET",
        "/self-service/verification/browser",
        Admin,
        "adminRedirectVerificationBrowser",
        "Redirect to the public port",
    )
    .replies(&[(307, Redirect)])
    .any_method(),
    op(
        "GET",
        "/self-service/verification/api",
        Admin,
        "adminRedirectVerificationApi",
        "Redirect to the public port",
    )
    .replies(&[(307, Redirect)])
    .any_method(),
    op(
        "GET",
        "/self-service/verification/flows",
        Admin,
        "adminRedirectVerificationFlows",
        "Redirect to the public port",
    )
    .replies(&[(307, Redirect)])
    .any_method(),
];

/// Every operation, in document order.
pub fn all() -> impl Iterator<Item = &'static Op> {
    static ALL: std::sync::OnceLock<Vec<Op>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let pending_recovery = RECOVERY.map(Op::pending);
        [VERIFICATION, REGISTRATION, LOGIN, SETTINGS]
            .into_iter()
            .flatten()
            .chain(pending_recovery)
            .chain(OTHERS.iter().copied())
            .chain(ADMIN_REDIRECTS.iter().copied())
            .collect()
    })
    .iter()
}

/// The `/admin`-prefixed route an un-prefixed admin path stands for.
pub fn admin_alias(path: &str) -> String {
    format!("/admin{path}")
}

/// Whether a concrete path matches a template (`{name}` stands for one non-empty segment).
pub fn matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

/// The methods `api` serves at `path`, `None` when no route has that path. Pending routes
/// are left out until they exist.
pub fn allowed(api: Api, path: &str) -> Option<Vec<&'static str>> {
    let served = |p: &str| -> Vec<&'static str> {
        all()
            .filter(|o| o.api.serves(api) && !o.pending && matches(o.path, p))
            .map(|o| o.method)
            .collect()
    };
    let mut methods = served(path);
    if methods.is_empty() && api == Api::Admin {
        methods = served(&admin_alias(path));
    }
    if methods.is_empty() {
        return None;
    }
    methods.sort_unstable();
    methods.dedup();
    Some(methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_parameter() {
        assert!(matches("/admin/identities/{id}", "/admin/identities/x"));
        assert!(!matches("/admin/identities/{id}", "/admin/identities/"));
        assert!(!matches("/admin/identities/{id}", "/admin/identities/x/y"));
        assert!(matches("/ui/", "/ui/") && !matches("/ui", "/ui/"));
    }

    #[test]
    fn allow_lists_the_methods_of_a_path_on_its_port() {
        assert_eq!(
            allowed(Api::Public, "/sessions"),
            Some(vec!["DELETE", "GET"])
        );
        assert_eq!(
            allowed(Api::Admin, "/identities/abc"),
            allowed(Api::Admin, "/admin/identities/abc")
        );
        assert_eq!(allowed(Api::Public, "/admin/identities"), None);
        assert_eq!(allowed(Api::Public, "/nowhere"), None);
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut ids: Vec<_> = all().map(|o| o.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
