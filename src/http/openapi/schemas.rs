//! Component schemas. Shapes follow Kratos v26.2 where Verity implements Kratos's routes; they
//! name the fields clients rely on and leave room for the ones Kratos adds over time.

use serde_json::{Value, json};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// A time in RFC 3339.
fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// Submissions are chosen by `method`; each method has its own fields.
fn submission(methods: &[&str], fields: Value) -> Value {
    let mut props = fields;
    props["method"] = json!({"type": "string", "enum": methods});
    props["csrf_token"] = json!({"type": "string"});
    object(&["method"], props)
}

pub fn all() -> Value {
    let mut all = common();
    let (Value::Object(into), Value::Object(more)) = (&mut all, admin()) else {
        unreachable!("both are JSON objects")
    };
    into.extend(more);
    all
}

fn common() -> Value {
    json!({
        "errorGeneric": object(&["error"], json!({
            "error": object(&["code", "status", "message"], json!({
                "id": {"type": "string"}, "code": {"type": "integer"}, "status": {"type": "string"},
                "reason": {"type": "string"}, "message": {"type": "string"},
                "details": {"type": "object"}, "request": {"type": "string"}
            }))
        })),
        "healthStatus": object(&["status"], json!({"status": {"type": "string"}})),
        "healthNotReadyStatus": object(&["errors"], json!({"errors": {"type": "object",
            "additionalProperties": {"type": "string"}}})),
        "version": object(&["version"], json!({"version": {"type": "string"}})),
        "identitySchema": {"type": "object"},
        "identitySchemaContainer": object(&["id", "schema"], json!({
            "id": {"type": "string"}, "schema": r("identitySchema")})),
        "flowError": object(&["id", "error"], json!({
            "id": {"type": "string"}, "error": {"type": "object"},
            "created_at": time(), "updated_at": time()})),
        "uiText": object(&["id", "text", "type"], json!({
            "id": {"type": "integer"}, "text": {"type": "string"}, "type": {"type": "string"},
            "context": {"type": "object"}})),
        "uiNode": object(&["type", "group", "attributes", "messages", "meta"], json!({
            "type": {"type": "string"}, "group": {"type": "string"},
            "attributes": {"type": "object"},
            "messages": {"type": "array", "items": r("uiText")}, "meta": {"type": "object"}})),
        "uiContainer": object(&["action", "method", "nodes"], json!({
            "action": {"type": "string"}, "method": {"type": "string"},
            "nodes": {"type": "array", "items": r("uiNode")},
            "messages": {"type": "array", "items": r("uiText")}})),
        "flow": {
            "description": "A self-service flow (verification, registration, login, settings or recovery)",
            "type": "object",
            "required": ["id", "type", "expires_at", "issued_at", "request_url", "ui"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "type": {"type": "string", "enum": ["api", "browser"]},
                "expires_at": time(), "issued_at": time(),
                "request_url": {"type": "string"}, "return_to": {"type": "string"},
                "state": {}, "ui": r("uiContainer")
            }
        },
        "verifiableIdentityAddress": object(&["value", "verified", "via", "status"], json!({
            "id": {"type": "string"}, "value": {"type": "string"}, "verified": {"type": "boolean"},
            "via": {"type": "string"}, "status": {"type": "string"},
            "verified_at": time(), "created_at": time(), "updated_at": time()})),
        "identity": object(&["id", "schema_id", "schema_url", "traits"], json!({
            "id": {"type": "string", "format": "uuid"}, "schema_id": {"type": "string"},
            "schema_url": {"type": "string"}, "state": {"type": "string", "enum": ["active", "inactive"]},
            "traits": {}, "verified": {"type": "boolean"},
            "verifiable_addresses": {"type": "array", "items": r("verifiableIdentityAddress")},
            "recovery_addresses": {"type": "array"}, "credentials": {"type": "object"},
            "metadata_public": {}, "metadata_admin": {},
            "created_at": time(), "updated_at": time()})),
        "session": object(&["id"], json!({
            "id": {"type": "string", "format": "uuid"}, "active": {"type": "boolean"},
            "expires_at": time(), "authenticated_at": time(), "issued_at": time(),
            "authenticator_assurance_level": {"type": "string"},
            "authentication_methods": {"type": "array"}, "devices": {"type": "array"},
            "identity": r("identity")})),
        "successfulNativeLogin": object(&["session"], json!({
            "session": r("session"), "session_token": {"type": "string"},
            "continue_with": {"type": "array"}})),
        "successfulNativeRegistration": object(&["identity"], json!({
            "identity": r("identity"), "session": r("session"), "session_token": {"type": "string"},
            "continue_with": {"type": "array"}})),
        "deleteMySessionsCount": object(&["count"], json!({"count": {"type": "integer"}})),
        "logoutFlow": object(&["logout_token", "logout_url"], json!({
            "logout_token": {"type": "string"}, "logout_url": {"type": "string"}})),
        "performNativeLogoutBody": object(&["session_token"], json!({"session_token": {"type": "string"}})),
        "updateVerificationFlowBody": submission(&["code", "link"], json!({
            "email": {"type": "string"}, "code": {"type": "string"}, "transient_payload": {"type": "object"}})),
        "updateRegistrationFlowBody": submission(&["password", "oidc", "profile", "code"], json!({
            "password": {"type": "string"}, "traits": {"type": "object"}, "provider": {"type": "string"},
            "transient_payload": {"type": "object"}})),
        "updateLoginFlowBody": submission(&["password", "oidc", "code"], json!({
            "identifier": {"type": "string"}, "password": {"type": "string"},
            "provider": {"type": "string"}, "transient_payload": {"type": "object"}})),
        "updateSettingsFlowBody": submission(&["password", "profile", "oidc"], json!({
            "password": {"type": "string"}, "traits": {"type": "object"},
            "transient_payload": {"type": "object"}})),
        "updateRecoveryFlowBody": submission(&["code", "link"], json!({
            "email": {"type": "string"}, "code": {"type": "string"}})),
        "oidcCallbackBody": {"type": "object", "properties": {
            "code": {"type": "string"}, "state": {"type": "string"}, "error": {"type": "string"}}},
    })
}

fn admin() -> Value {
    json!({
        "createIdentityBody": object(&["schema_id", "traits"], json!({
            "schema_id": {"type": "string"}, "traits": {"type": "object"},
            "state": {"type": "string", "enum": ["active", "inactive"]},
            "credentials": {"type": "object"}, "verifiable_addresses": {"type": "array"},
            "recovery_addresses": {"type": "array"},
            "metadata_public": {}, "metadata_admin": {}, "external_id": {"type": "string"}})),
        "updateIdentityBody": object(&["schema_id", "traits", "state"], json!({
            "schema_id": {"type": "string"}, "traits": {"type": "object"},
            "state": {"type": "string", "enum": ["active", "inactive"]},
            "credentials": {"type": "object"}, "metadata_public": {}, "metadata_admin": {}})),
        "patchIdentitiesBody": object(&["identities"], json!({"identities": {"type": "array", "items": {
            "type": "object", "properties": {"create": r("createIdentityBody"),
                "patch_id": {"type": "string"}}}}})),
        "batchPatchIdentitiesResponse": object(&["identities"], json!({"identities": {"type": "array"}})),
        "jsonPatchDocument": {"type": "array", "items": object(&["op", "path"], json!({
            "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"}, "from": {"type": "string"}, "value": {}}))},
        "message": object(&["id", "type", "status", "recipient", "template_type", "created_at"], json!({
            "id": {"type": "string", "format": "uuid"}, "type": {"type": "string", "enum": ["email", "sms", "voice"]},
            "status": {"type": "string"}, "recipient": {"type": "string"}, "subject": {"type": "string"},
            "body": {"type": "string"}, "template_type": {"type": "string"}, "verity_template_type": {"type": "string"}, "channel": {"type": "string"},
            "send_count": {"type": "integer"}, "dispatches": {"type": "array"},
            "created_at": time(), "updated_at": time()})),
        "createRecoveryCodeForIdentityBody": object(&["identity_id"], json!({
            "identity_id": {"type": "string", "format": "uuid"}, "expires_in": {"type": "string"},
            "flow_type": {"type": "string", "enum": ["api", "browser"]}})),
        "recoveryCodeForIdentity": object(&["recovery_code", "recovery_link"], json!({
            "recovery_code": {"type": "string"}, "recovery_link": {"type": "string"}, "expires_at": time()})),
        "createRecoveryLinkForIdentityBody": object(&["identity_id"], json!({
            "identity_id": {"type": "string", "format": "uuid"}, "expires_in": {"type": "string"}})),
        "recoveryLinkForIdentity": object(&["recovery_link"], json!({
            "recovery_link": {"type": "string"}, "expires_at": time()})),
        "apiKey": object(&["id"], json!({
            "id": {"type": "string"}, "name": {"type": "string"}, "credits": {"type": "integer"},
            "secret": {"type": "string", "description": "Only in the answer that created the key"}})),
        "createApiKeyBody": object(&["name"], json!({
            "name": {"type": "string"}, "credits": {"type": "integer", "minimum": 0}})),
        "topUpBody": object(&["add"], json!({"add": {"type": "integer", "minimum": 0}})),
        "phoneVerification": object(&["request_id", "status"], json!({
            "request_id": {"type": "string"}, "api_key_id": {"type": "string"},
            "phone_number": {"type": "string"}, "sender_name": {"type": "string"},
            "status": {"type": "string"}, "attempts": {"type": "integer"}, "channels": {"type": "array"}})),
        "devMessage": object(&["id", "type", "status", "recipient"], json!({
            "id": {"type": "string"}, "type": {"type": "string"}, "status": {"type": "string"},
            "recipient": {"type": "string"}, "template_type": {"type": "string"}})),
        "sendSmsBody": object(&["phone_number"], json!({
            "phone_number": {"type": "string", "description": "E.164"},
            "sender_name": {"type": "string", "maxLength": 11}})),
        "sendSmsResponse": object(&["request_id"], json!({"request_id": {"type": "string"}})),
        "verifySmsBody": object(&["request_id", "received_code"], json!({
            "request_id": {"type": "string"}, "received_code": {"type": "string"}})),
        "verifySmsResponse": object(&["is_verified"], json!({"is_verified": {"type": "boolean"}})),
        "openapiDocument": object(&["openapi", "paths"], json!({
            "openapi": {"type": "string"}, "paths": {"type": "object"}}))
    })
}
