//! The public port's routes besides the self-service flows' (and those both ports serve).

use super::Api::{Both, Public};
use super::routes::Body::{Json as JsonBody, JsonOrForm};
use super::routes::Reply::{Empty, Html, Json, List, Redirect, Text};
use super::routes::{Op, op};

pub(super) const OPS: &[Op] = &[
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
        "/",
        Public,
        "root",
        "The start page: browsers are sent to the built-in pages when those are in use",
    )
    .replies(&[(303, Redirect)]),
    op(
        "GET",
        "/self-service/recovery",
        Public,
        "openRecoveryLink",
        "Open a recovery link (a link token is used at once)",
    )
    .query(&["flow", "token"])
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
        "/ui/recovery",
        Public,
        "uiRecovery",
        "Built-in page: recover an account",
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
];
