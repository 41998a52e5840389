//! Every route Verity serves, as one table: the OpenAPI document is built from it, the 405
//! fallback reads `Allow` from it, and `tests/api/openapi.rs` checks it against the routers.
//!
//! Admin routes are listed under `/admin/...`; the admin port also answers each of them without
//! the prefix, as Kratos does (see [`admin_alias`]).

use super::Api::{self, Public};

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

pub(super) const fn op(
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
    pub(super) const fn query(mut self, q: &'static [&'static str]) -> Self {
        self.query = q;
        self
    }
    pub(super) const fn body(mut self, b: Body) -> Self {
        self.body = b;
        self
    }
    pub(super) const fn replies(mut self, r: &'static [(u16, Reply)]) -> Self {
        self.replies = r;
        self
    }
    // No route is pending today; the mark stays for routes documented before they are built.
    #[allow(dead_code)]
    pub(super) const fn pending(mut self) -> Self {
        self.pending = true;
        self
    }
    pub(super) const fn any_method(mut self) -> Self {
        self.any_method = true;
        self
    }
}

use Body::JsonOrForm;
use Reply::{Json, Redirect};

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

/// Every operation, in document order.
pub fn all() -> impl Iterator<Item = &'static Op> {
    static ALL: std::sync::OnceLock<Vec<Op>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        [VERIFICATION, REGISTRATION, LOGIN, SETTINGS, RECOVERY]
            .into_iter()
            .flatten()
            .chain(super::ops_public::OPS.iter().copied())
            .chain(super::ops_admin::OPS.iter().copied())
            .chain(super::ops_admin::REDIRECTS.iter().copied())
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
