//! Jsonnet request bodies for HTTP gateways, Kratos style: the template is a function taking
//! `ctx` (`function(ctx) {...}`, applied as a top-level argument). jrsonnet's `State` is
//! `!Send`, so each evaluation builds its own and runs on a blocking thread.

use std::collections::HashMap;

use jrsonnet_evaluator::{State, Val, apply_tla, tla::TlaArg, trace::PathResolver};
use serde_json::Value;

/// Kratos's default body when `request_config.body` is not set.
pub const DEFAULT_BODY: &str = r#"function(ctx) {
  recipient: ctx.recipient,
  template_type: ctx.template_type,
  body: ctx.body,
}"#;

/// The default body for email over HTTP: the fields Kratos's default sends, the code and link
/// picked out of the template data when there is one.
pub const DEFAULT_EMAIL_BODY: &str = r#"function(ctx)
  local data = if std.objectHas(ctx, 'template_data') && ctx.template_data != null
    then ctx.template_data else {};
  local pick(k) = if std.objectHas(data, k) then data[k] else null;
  {
    recipient: ctx.recipient,
    template_type: ctx.template_type,
    to: pick('to'),
    recovery_code: pick('recovery_code'),
    recovery_url: pick('recovery_url'),
    verification_url: pick('verification_url'),
    verification_code: pick('verification_code'),
    subject: ctx.subject,
    body: ctx.body,
  }"#;

/// Largest body a template may produce; anything larger is a broken template.
const MAX_OUTPUT: usize = 64 * 1024;

/// Evaluates `code` with `ctx` and returns the JSON it produced. Synchronous: call it from
/// `spawn_blocking` (or at start-up).
#[allow(clippy::mutable_key_type)] // jrsonnet's TLA map is keyed by interned strings
pub fn evaluate(code: &str, ctx: &Value) -> Result<Value, String> {
    let ctx_init = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Absolute);
    let mut builder = State::builder();
    builder.context_initializer(ctx_init);
    let state = builder.build();
    let _guard = state.enter();
    let val = state
        .evaluate_snippet("request_config.body", code)
        .map_err(|e| format!("the Jsonnet body does not evaluate: {e}"))?;
    let arg = Val::from_serde(ctx).map_err(|e| format!("cannot pass ctx to Jsonnet: {e}"))?;
    let mut args = HashMap::new();
    args.insert("ctx".into(), TlaArg::Val(arg));
    let out = apply_tla(&args, val).map_err(|e| format!("the Jsonnet body failed: {e}"))?;
    let json =
        serde_json::to_value(&out).map_err(|e| format!("the Jsonnet body is not JSON: {e}"))?;
    if json.to_string().len() > MAX_OUTPUT {
        return Err("the Jsonnet body produced more than 64 KiB".into());
    }
    Ok(json)
}

/// Runs `evaluate` on the blocking pool.
pub async fn evaluate_async(code: std::sync::Arc<str>, ctx: Value) -> Result<Value, String> {
    tokio::task::spawn_blocking(move || evaluate(&code, &ctx))
        .await
        .map_err(|e| format!("the Jsonnet evaluation crashed: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({"recipient": "+15550100", "body": "Your code is 123456", "template_type": "verification_code_valid",
               "template_data": {"verification_code": "123456"}, "message_type": "sms"})
    }

    #[test]
    fn kratos_function_bodies_evaluate() {
        let code = r#"function(ctx) { To: ctx.recipient, Body: ctx.body, code: ctx.template_data.verification_code, n: std.length(ctx.body) }"#;
        let out = evaluate(code, &ctx()).unwrap();
        assert_eq!(
            out,
            json!({"To": "+15550100", "Body": "Your code is 123456", "code": "123456", "n": 19})
        );
    }

    #[test]
    fn the_default_body_sends_recipient_and_text() {
        let out = evaluate(DEFAULT_BODY, &ctx()).unwrap();
        assert_eq!(out["recipient"], "+15550100");
        assert_eq!(out["body"], "Your code is 123456");
    }

    #[test]
    fn errors_are_reported() {
        assert!(evaluate("function(ctx) { a: ctx.missing }", &ctx()).is_err());
        assert!(evaluate("function(ctx) {", &ctx()).is_err());
        assert!(
            evaluate(
                "function(ctx) std.join('', std.makeArray(100000, function(i) 'x'))",
                &ctx()
            )
            .is_err()
        );
    }
}
