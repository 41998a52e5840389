//! Signing in with a password: any credential identifier (email, phone, username), a dummy
//! hash for unknown identifiers so both cases cost one argon2 verification, and throttling
//! per submitted identifier.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::PasswordFields;
use crate::flow::core::messages;
use crate::flow::core::{Flow, FlowDeps, FlowError, Outcome, Request, Step, show_error};
use crate::identity::{Identity, IdentityState};
use crate::ratelimit::lockout::{Attempt, is_known_device};
use crate::schema::{normalize_email, normalize_phone};

/// The stored forms an identifier may take: lower-cased email, E.164 phone, or the
/// trimmed, lower-cased username.
pub fn identifier_keys(raw: &str) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if raw.contains('@')
        && let Ok(e) = normalize_email(raw)
    {
        keys.push(e);
    }
    if !raw.contains('@')
        && let Ok(p) = normalize_phone(raw)
    {
        keys.push(p);
    }
    let plain = raw.trim().to_lowercase();
    if !keys.contains(&plain) {
        keys.push(plain);
    }
    keys
}

/// Checks passwords for sign-in; holds the dummy hash unknown identifiers are checked against.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    /// A hash of a random password by the slowest configured verifier, made on first use.
    dummy: Arc<OnceCell<String>>,
}

impl Authenticator {
    async fn dummy_hash(&self, deps: &FlowDeps) -> Result<String, FlowError> {
        let hasher = deps.hasher.clone();
        let phc = self
            .dummy
            .get_or_try_init(|| async move { hasher.slowest_dummy().await })
            .await?;
        Ok(phc.clone())
    }

    /// The identity `fields` sign in, or the flow showing why not. A refresh flow's
    /// `identity_id` is the only identity it may sign in.
    pub async fn authenticate(
        &self,
        deps: &FlowDeps,
        mut flow: Flow,
        fields: PasswordFields,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Step<(Flow, Identity)>, FlowError> {
        let raw_identifier = fields.identifier.clone().unwrap_or_default();
        flow.ui.clear_messages();
        flow.ui.set_value("identifier", json!(raw_identifier));
        let password = fields.normalized_password().unwrap_or_default();
        if raw_identifier.trim().is_empty() || password.is_empty() {
            let missing = if raw_identifier.trim().is_empty() {
                "identifier"
            } else {
                "password"
            };
            flow.ui
                .add_message(Some(missing), crate::text::missing_property(missing));
            return answer(deps, flow, now).await;
        }
        if password.len() > crate::password::MAX_PASSWORD_BYTES {
            flow.ui.messages.push(messages::invalid_credentials());
            return answer(deps, flow, now).await;
        }
        let keys = identifier_keys(&raw_identifier);
        // Keyed by what was typed (normalised), so known and unknown accounts throttle alike;
        // per client too, and a browser signed in from before is spared the hard lock.
        let attempt = Attempt {
            identifier: &keys[0],
            client: &req.client,
            known_device: is_known_device(&deps.keyring, req.device_marks.as_deref(), &keys[0]),
        };
        if let Err(l) = deps.limiter.login_allowed(&attempt, now).await? {
            let actor = req.actor(flow.id, None, Some(&keys[0]));
            crate::audit::event(crate::audit::AuditEvent::LockedOut {
                reason: "login_failures",
                actor,
            });
            return Err(FlowError::RateLimited(l.retry_after));
        }
        // One statement whether or not the identifier is known; the whole identity is read
        // only once the password matched, so a failure costs the same on both branches.
        let mut found = None;
        for key in &keys {
            if let Some(h) = deps.store.find_credential_holder("password", key).await? {
                found = Some(h);
                break;
            }
        }
        let stored_hash = found
            .as_ref()
            .and_then(|h| h.config.get("hashed_password"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let refresh_target_ok = match (flow.identity_id, &found) {
            (Some(expected), Some(h)) => h.identity_id == expected,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let (phc, real) = match stored_hash {
            Some(h) => (h, true),
            None => (self.dummy_hash(deps).await?, false),
        };
        let matches = match deps.hasher.verify(password.clone(), phc.clone()).await {
            Ok(m) => m,
            Err(crate::hash::HashError::UnsupportedHash) => false,
            Err(e) => return Err(e.into()),
        };
        let holder = match found {
            Some(h) if real && matches && refresh_target_ok => h,
            _ => {
                let actor = req.actor(flow.id, None, Some(&keys[0]));
                crate::audit::event(crate::audit::AuditEvent::LoginFailed(actor));
                deps.limiter.login_failed(&attempt, now).await?;
                flow.ui.messages.push(messages::invalid_credentials());
                return answer(deps, flow, now).await;
            }
        };
        if holder.state != IdentityState::Active {
            flow.ui.messages.push(messages::account_disabled());
            return answer(deps, flow, now).await;
        }
        let Some(identity) = deps.store.get_identity(holder.identity_id).await? else {
            // Deleted between the check and now: as if it had never been there.
            flow.ui.messages.push(messages::invalid_credentials());
            return answer(deps, flow, now).await;
        };
        rehash(deps, &identity, &phc, password, now).await;
        Ok(Step::Proceed((flow, identity)))
    }
}

/// An imported hash (or one from a hasher no longer configured) is replaced by one from the
/// configured hasher, compare-and-swap so a password changed meanwhile wins. A failure here
/// costs only the upgrade, never the sign-in.
async fn rehash(
    deps: &FlowDeps,
    identity: &Identity,
    old: &str,
    password: String,
    now: DateTime<Utc>,
) {
    if !deps.hasher.needs_rehash(old) {
        return;
    }
    let result = match deps.hasher.hash(password).await {
        Ok(new) => deps
            .store
            .swap_password_hash(identity.id, old, &new, now)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(true) => {
            tracing::info!(identity = %identity.id, "password hash upgraded to the configured hasher")
        }
        Ok(false) => {
            tracing::info!(identity = %identity.id, "password changed meanwhile; hash not upgraded")
        }
        Err(e) => {
            tracing::warn!(identity = %identity.id, error = %e, "upgrading the password hash failed")
        }
    }
}

async fn answer<T>(deps: &FlowDeps, flow: Flow, now: DateTime<Utc>) -> Result<Step<T>, FlowError> {
    let shown: Outcome = show_error(deps, flow, now).await?;
    Ok(Step::Answer(Box::new(shown)))
}

#[cfg(test)]
mod tests {
    use super::identifier_keys;

    #[test]
    fn identifiers_are_tried_in_their_stored_forms() {
        assert_eq!(identifier_keys(" Ada@Example.COM "), ["ada@example.com"]);
        assert_eq!(
            identifier_keys("+49 151 12345678"),
            ["+4915112345678", "+49 151 12345678"]
        );
        assert_eq!(identifier_keys("Ada"), ["ada"]);
    }
}
