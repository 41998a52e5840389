//! The Jsonnet claims mapper, Kratos style: the snippet reads the provider's claims with
//! `std.extVar('claims')` and returns `{identity: {traits, verified_addresses?,
//! metadata_public?, metadata_admin?}}`. jrsonnet's `State` is `!Send`, so every evaluation
//! builds its own and runs on the blocking pool.

use std::sync::Arc;

use jrsonnet_evaluator::{State, trace::PathResolver};
use serde_json::Value;

use crate::schema::Via;

/// Largest mapper output accepted; an identity is a few KiB at most.
const MAX_OUTPUT: usize = 64 * 1024;

/// What the mapper produced for one sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub traits: Value,
    /// Normalised addresses the provider vouches for (`identity.verified_addresses`).
    pub verified_addresses: Vec<(Via, String)>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
}

/// Why a mapper could not produce an identity. `InvalidVerifiedAddresses` is the caller's
/// 400; the rest are mapper bugs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapperError {
    #[error("the Jsonnet mapper failed: {0}")]
    Evaluation(String),
    #[error("the Jsonnet mapper result is invalid: {0}")]
    Shape(String),
    #[error("identity.verified_addresses is invalid: {0}")]
    InvalidVerifiedAddresses(String),
}

/// A mapper snippet, checked for syntax when loaded.
#[derive(Clone)]
pub struct Mapper {
    code: Arc<str>,
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapper").finish_non_exhaustive()
    }
}

fn state_with_claims(claims: &Value) -> Result<State, MapperError> {
    let ctx_init = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Absolute);
    let claims = jrsonnet_evaluator::Val::from_serde(claims)
        .map_err(|e| MapperError::Evaluation(format!("cannot pass the claims: {e}")))?;
    ctx_init.add_ext_var("claims".into(), claims);
    let mut builder = State::builder();
    builder.context_initializer(ctx_init);
    Ok(builder.build())
}

impl Mapper {
    /// Parses and statically checks `code` (syntax, undefined variables) without evaluating
    /// it: a mapper may rightly fail on claims that no real provider sends.
    pub fn new(code: &str) -> Result<Self, MapperError> {
        let state = state_with_claims(&Value::Object(Default::default()))?;
        let _guard = state.enter();
        state
            .prepare_snippet("mapper_url", code)
            .map_err(|e| MapperError::Evaluation(e.to_string()))?;
        Ok(Self { code: code.into() })
    }

    /// Evaluates the mapper for `claims`. Synchronous: use `map_async` from async code.
    pub fn map(&self, claims: &Value) -> Result<Mapped, MapperError> {
        let out = evaluate(&self.code, claims)?;
        parse_output(out)
    }

    /// Runs `map` on the blocking pool.
    pub async fn map_async(&self, claims: Value) -> Result<Mapped, MapperError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.map(&claims))
            .await
            .map_err(|_| MapperError::Evaluation("the evaluation crashed".into()))?
    }
}

fn evaluate(code: &str, claims: &Value) -> Result<Value, MapperError> {
    let state = state_with_claims(claims)?;
    let _guard = state.enter();
    let val = state
        .evaluate_snippet("mapper_url", code)
        .map_err(|e| MapperError::Evaluation(e.to_string()))?;
    let json = serde_json::to_value(&val).map_err(|e| MapperError::Evaluation(e.to_string()))?;
    if json.to_string().len() > MAX_OUTPUT {
        return Err(MapperError::Shape(
            "the output is larger than 64 KiB".into(),
        ));
    }
    Ok(json)
}

fn parse_output(out: Value) -> Result<Mapped, MapperError> {
    let Some(identity) = out.get("identity").and_then(Value::as_object) else {
        return Err(MapperError::Shape("it has no `identity` object".into()));
    };
    let traits = match identity.get("traits") {
        Some(t @ Value::Object(_)) => t.clone(),
        Some(_) => {
            return Err(MapperError::Shape(
                "`identity.traits` is not an object".into(),
            ));
        }
        None => return Err(MapperError::Shape("it has no `identity.traits`".into())),
    };
    let verified_addresses = match identity.get("verified_addresses") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(verified_address)
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(MapperError::InvalidVerifiedAddresses(
                "it must be an array".into(),
            ));
        }
    };
    let optional = |key: &str| identity.get(key).filter(|v| !v.is_null()).cloned();
    Ok(Mapped {
        traits,
        verified_addresses,
        metadata_public: optional("metadata_public"),
        metadata_admin: optional("metadata_admin"),
    })
}

/// `Ok(None)` for a value that is no valid address: it can match no derived address.
fn verified_address(item: &Value) -> Result<Option<(Via, String)>, MapperError> {
    let bad = |why: &str| MapperError::InvalidVerifiedAddresses(why.to_owned());
    let via = match item.get("via").and_then(Value::as_str) {
        Some("email") => Via::Email,
        Some("sms") => Via::Sms,
        _ => return Err(bad("each entry needs `via`: \"email\" or \"sms\"")),
    };
    let value = item
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("each entry needs a string `value`"))?;
    Ok(via.normalize(value).ok().map(|v| (via, v)))
}

#[cfg(test)]
#[path = "mapper_tests.rs"]
mod tests;
