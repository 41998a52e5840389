//! Admin operations on many identities or on one credential: Kratos's batch create
//! (`PATCH /admin/identities`) and the removal of one credential type.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Identity, IdentityError, IdentityInput, IdentityService};

/// Kratos's limits: 1000 patches a request, 200 of them with a plaintext password.
pub const BATCH_LIMIT: usize = 1000;
pub const BATCH_PLAINTEXT_LIMIT: usize = 200;

/// `PATCH /admin/identities`: unknown fields are refused, as Kratos's strict decoder does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchPatch {
    #[serde(default)]
    pub identities: Vec<BatchItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    #[serde(default)]
    pub create: Option<IdentityInput>,
    #[serde(default)]
    pub patch_id: Option<Uuid>,
}

/// What became of one patch: created (its id), refused with its own error, or nothing to do (a patch
/// without `create`, which Kratos answers with `null`).
#[derive(Debug)]
pub enum BatchResult {
    Created(Uuid),
    Failed(IdentityError),
    Skipped,
}

fn has_plaintext_password(input: &IdentityInput) -> bool {
    input
        .credentials
        .as_ref()
        .and_then(|c| c.password.as_ref())
        .and_then(|p| p.config.password.as_deref())
        .is_some_and(|p| !p.is_empty())
}

/// First-factor credentials left: a password with a hash, and each social sign-in link.
fn first_factors(identity: &Identity) -> usize {
    identity
        .credentials
        .iter()
        .map(|c| match c.kind.as_str() {
            "password" => usize::from(
                c.config
                    .get("hashed_password")
                    .and_then(Value::as_str)
                    .is_some_and(|h| !h.is_empty()),
            ),
            "oidc" => providers(&c.config).len(),
            _ => 0,
        })
        .sum()
}

fn providers(config: &Value) -> Vec<Value> {
    config
        .get("providers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn provider_id(p: &Value) -> String {
    let part = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    format!("{}:{}", part("provider"), part("subject"))
}

impl IdentityService {
    /// Creates each identity on its own: one that fails (invalid traits, a duplicate) gets
    /// its error and the others are still created. A database outage or an overloaded
    /// hasher fails the whole request.
    pub async fn batch_create(
        &self,
        patch: BatchPatch,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Option<Uuid>, BatchResult)>, IdentityError> {
        if patch.identities.len() > BATCH_LIMIT {
            return Err(IdentityError::Invalid(format!(
                "The maximum number of identities per request that can be created or deleted at once is {BATCH_LIMIT}."
            )));
        }
        let plaintext = patch
            .identities
            .iter()
            .filter_map(|i| i.create.as_ref())
            .filter(|c| has_plaintext_password(c))
            .count();
        if plaintext > BATCH_PLAINTEXT_LIMIT {
            return Err(IdentityError::Invalid(format!(
                "The maximum number of identities per request that can be created with a plaintext password is {BATCH_PLAINTEXT_LIMIT}."
            )));
        }
        let mut out = Vec::with_capacity(patch.identities.len());
        for item in patch.identities {
            let result = match item.create {
                None => BatchResult::Skipped,
                Some(input) => match self.create(input, now).await {
                    Ok(identity) => BatchResult::Created(identity.id),
                    Err(e @ (IdentityError::Store(_) | IdentityError::Hash(_))) => return Err(e),
                    Err(e) => BatchResult::Failed(e),
                },
            };
            out.push((item.patch_id, result));
        }
        Ok(out)
    }

    /// Removes the credential `kind` of an identity, as Kratos's admin API does: a password
    /// loses its hash, one social sign-in link goes by its `provider:subject` identifier,
    /// and the last first factor is never removed.
    pub async fn delete_credential(
        &self,
        id: Uuid,
        kind: &str,
        identifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut identity = self.get(id).await?;
        let factors = first_factors(&identity);
        let Some(cred) = identity.credentials.iter_mut().find(|c| c.kind == kind) else {
            return Err(IdentityError::CredentialNotFound(format!(
                "You tried to remove a {kind} but this user have no {kind} set up."
            )));
        };
        match kind {
            "password" | "oidc" if factors < 2 => {
                return Err(IdentityError::Invalid(
                    "You cannot remove the last first factor credential.".into(),
                ));
            }
            "password" => cred.config = json!({}),
            "oidc" => {
                let target = identifier.filter(|i| !i.is_empty()).ok_or_else(|| {
                    IdentityError::Invalid(
                        "You must provide an identifier to delete this credential.".into(),
                    )
                })?;
                let all = providers(&cred.config);
                let kept: Vec<Value> = all
                    .iter()
                    .filter(|p| provider_id(p) != target)
                    .cloned()
                    .collect();
                if kept.len() == all.len() {
                    return Err(IdentityError::CredentialNotFound(format!(
                        "The identifier `{target}` was not found among OIDC credentials."
                    )));
                }
                cred.identifiers = kept.iter().map(provider_id).collect();
                cred.config = json!({"providers": kept});
            }
            other => {
                return Err(IdentityError::Invalid(format!(
                    "Credentials type {other} cannot be deleted."
                )));
            }
        }
        cred.updated_at = now;
        identity.updated_at = now;
        if self.store.update_identity(&identity).await? {
            Ok(())
        } else {
            Err(IdentityError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Credential;

    fn cred(kind: &str, config: Value) -> Credential {
        let now = Utc::now();
        Credential {
            id: Uuid::new_v4(),
            kind: kind.into(),
            identifiers: vec![],
            config,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn first_factors_count_hashes_and_provider_links() {
        let p = |h: &str| cred("password", json!({"hashed_password": h}));
        let oidc = cred(
            "oidc",
            json!({"providers": [{"provider": "a", "subject": "1"}, {"provider": "b", "subject": "2"}]}),
        );
        let mut i = sample();
        i.credentials = vec![p("$argon2id$x"), oidc.clone()];
        assert_eq!(first_factors(&i), 3);
        i.credentials = vec![p(""), cred("code", json!({}))];
        assert_eq!(first_factors(&i), 0);
        assert_eq!(provider_id(&providers(&oidc.config)[1]), "b:2");
    }

    fn sample() -> Identity {
        let now = Utc::now();
        Identity {
            id: Uuid::new_v4(),
            schema_id: "default".into(),
            state: crate::identity::IdentityState::Active,
            state_changed_at: None,
            verifiable_addresses: vec![],
            recovery_addresses: vec![],
            credentials: vec![],
            traits: json!({}),
            metadata_public: None,
            metadata_admin: None,
            external_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn plaintext_passwords_are_counted() {
        let with: IdentityInput = serde_json::from_value(json!({
            "traits": {}, "credentials": {"password": {"config": {"password": "x"}}}
        }))
        .unwrap();
        let hashed: IdentityInput = serde_json::from_value(json!({
            "traits": {}, "credentials": {"password": {"config": {"hashed_password": "$argon2id$"}}}
        }))
        .unwrap();
        assert!(has_plaintext_password(&with));
        assert!(!has_plaintext_password(&hashed));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let bad = serde_json::from_value::<BatchPatch>(json!({"identities": [{"delete": {}}]}));
        assert!(bad.is_err());
        let ok: BatchPatch =
            serde_json::from_value(json!({"identities": [{"patch_id": Uuid::nil()}]})).unwrap();
        assert!(ok.identities[0].create.is_none());
    }
}
