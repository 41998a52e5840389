//! The admin port's routes, under `/admin` (the port also answers them without the prefix).

use super::Api::Admin;
use super::routes::Body::{Json as JsonBody, JsonPatch};
use super::routes::Reply::{Empty, Html, Json, List, Redirect, Text};
use super::routes::{Op, op};

pub(super) const OPS: &[Op] = &[
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
    .replies(&[(200, Json("batchPatchIdentitiesResponse"))]),
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
    .query(&["identifier"])
    .replies(&[(204, Empty)]),
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
    .replies(&[(200, List("session"))]),
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
    .replies(&[(201, Json("recoveryCodeForIdentity"))]),
    op(
        "POST",
        "/admin/recovery/link",
        Admin,
        "createRecoveryLinkForIdentity",
        "A recovery link for an identity",
    )
    .body(JsonBody("createRecoveryLinkForIdentityBody"))
    .replies(&[(200, Json("recoveryLinkForIdentity"))]),
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
pub(super) const REDIRECTS: &[Op] = &[
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
    op(
        "GET",
        "/admin/schemas",
        Admin,
        "adminRedirectIdentitySchemas",
        "Redirect to the public port's identity schemas",
    )
    .replies(&[(307, Redirect)]),
    op(
        "GET",
        "/admin/schemas/{id}",
        Admin,
        "adminRedirectIdentitySchema",
        "Redirect to one identity schema on the public port",
    )
    .replies(&[(307, Redirect)]),
];
