//! Pure rules: from validated traits and the previous state, the identity to store.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AddressInput, AddressStatus, Credential, RecoveryAddress, VerifiableAddress};
use crate::schema::{Derived, Via, normalize_email, normalize_phone};

/// Addresses become exactly those derived from the traits. One that existed before with the
/// same channel and value keeps its id and state; an override (import, patch) sets the state.
pub fn merge_addresses(
    derived: &[(Via, String)],
    previous: &[VerifiableAddress],
    overrides: &[AddressInput],
    now: DateTime<Utc>,
) -> Vec<VerifiableAddress> {
    derived
        .iter()
        .map(|(via, value)| {
            let mut addr = previous
                .iter()
                .find(|a| a.via == *via && a.value == *value)
                .cloned()
                .unwrap_or_else(|| VerifiableAddress {
                    id: Uuid::new_v4(),
                    value: value.clone(),
                    verified: false,
                    via: *via,
                    status: AddressStatus::Pending,
                    verified_at: None,
                    created_at: now,
                    updated_at: now,
                });
            let wanted = overrides
                .iter()
                .find(|o| o.via == *via && normalized(o.via, &o.value).as_deref() == Some(value));
            if let Some(o) = wanted {
                let status = o.status.unwrap_or(if o.verified {
                    AddressStatus::Completed
                } else {
                    AddressStatus::Pending
                });
                let verified = o.verified || status == AddressStatus::Completed;
                if (addr.verified, addr.status) != (verified, status) {
                    addr.updated_at = now;
                }
                addr.verified = verified;
                addr.status = if verified {
                    AddressStatus::Completed
                } else {
                    status
                };
                addr.verified_at = if verified {
                    o.verified_at.or(addr.verified_at).or(Some(now))
                } else {
                    None
                };
            }
            addr
        })
        .collect()
}

fn normalized(via: Via, value: &str) -> Option<String> {
    match via {
        Via::Email => normalize_email(value).ok(),
        Via::Sms => normalize_phone(value).ok(),
    }
}

pub fn merge_recovery(
    derived: &[(Via, String)],
    previous: &[RecoveryAddress],
    now: DateTime<Utc>,
) -> Vec<RecoveryAddress> {
    derived
        .iter()
        .map(|(via, value)| {
            previous
                .iter()
                .find(|a| a.via == *via && a.value == *value)
                .cloned()
                .unwrap_or_else(|| RecoveryAddress {
                    id: Uuid::new_v4(),
                    value: value.clone(),
                    via: *via,
                    created_at: now,
                    updated_at: now,
                })
        })
        .collect()
}

/// Credentials after a write: identifiers follow the traits, configs are kept unless
/// replaced. The password credential exists whenever the schema names a password
/// identifier, so identifiers stay unique even for identities without a password.
pub fn merge_credentials(
    derived: &Derived,
    previous: &[Credential],
    password_config: Option<Value>,
    oidc_providers: Option<Value>,
    now: DateTime<Utc>,
) -> Vec<Credential> {
    let mut out = Vec::new();
    let mut upsert = |kind: &str, identifiers: Vec<String>, config: Option<Value>| {
        let before = previous.iter().find(|c| c.kind == kind);
        if identifiers.is_empty() && config.is_none() && before.is_none() {
            return;
        }
        let mut cred = before.cloned().unwrap_or_else(|| Credential {
            id: Uuid::new_v4(),
            kind: kind.to_owned(),
            identifiers: Vec::new(),
            config: json!({}),
            version: 0,
            created_at: now,
            updated_at: now,
        });
        let mut identifiers = identifiers;
        identifiers.sort();
        identifiers.dedup();
        if cred.identifiers != identifiers || config.is_some() {
            cred.updated_at = now;
        }
        cred.identifiers = identifiers;
        if let Some(c) = config {
            cred.config = c;
        }
        out.push(cred);
    };
    upsert(
        "password",
        derived.password_identifiers.clone(),
        password_config,
    );
    let code_ids = derived
        .code_identifiers
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    let code_config = (!derived.code_identifiers.is_empty()).then(|| {
        let addresses: Vec<Value> = derived
            .code_identifiers
            .iter()
            .map(|(via, v)| json!({"channel": via.as_str(), "address": v}))
            .collect();
        json!({"addresses": addresses})
    });
    upsert("code", code_ids, code_config);
    let oidc_ids = oidc_providers
        .as_ref()
        .or(previous
            .iter()
            .find(|c| c.kind == "oidc")
            .map(|c| &c.config))
        .and_then(|c| c.get("providers"))
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    Some(format!(
                        "{}:{}",
                        p.get("provider")?.as_str()?,
                        p.get("subject")?.as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    upsert("oidc", oidc_ids, oidc_providers);
    for other in previous {
        if !["password", "code", "oidc"].contains(&other.kind.as_str()) {
            out.push(other.clone());
        }
    }
    out.retain(|c| !(c.identifiers.is_empty() && c.kind == "code"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(via: Via, value: &str, status: AddressStatus) -> VerifiableAddress {
        let t = Utc::now();
        VerifiableAddress {
            id: Uuid::new_v4(),
            value: value.into(),
            verified: status == AddressStatus::Completed,
            via,
            status,
            verified_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn kept_addresses_keep_their_state_and_new_ones_are_pending() {
        let old = addr(Via::Email, "a@x.io", AddressStatus::Completed);
        let derived = vec![(Via::Email, "a@x.io".into()), (Via::Email, "b@x.io".into())];
        let merged = merge_addresses(&derived, std::slice::from_ref(&old), &[], Utc::now());
        assert_eq!(merged[0], old);
        assert_eq!(merged[1].status, AddressStatus::Pending);
        assert!(!merged[1].verified);
    }

    #[test]
    fn dropped_trait_drops_its_address() {
        let old = addr(Via::Email, "a@x.io", AddressStatus::Completed);
        let merged = merge_addresses(
            &[(Via::Email, "c@x.io".into())],
            std::slice::from_ref(&old),
            &[],
            Utc::now(),
        );
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].value, "c@x.io");
        assert!(!merged[0].verified);
    }

    #[test]
    fn import_override_marks_verified_and_matches_after_normalising() {
        let o = AddressInput {
            value: " A@X.io ".into(),
            via: Via::Email,
            verified: true,
            status: None,
            verified_at: None,
        };
        let merged = merge_addresses(&[(Via::Email, "a@x.io".into())], &[], &[o], Utc::now());
        assert!(merged[0].verified);
        assert_eq!(merged[0].status, AddressStatus::Completed);
        assert!(merged[0].verified_at.is_some());
    }

    #[test]
    fn password_credential_tracks_identifiers_and_keeps_its_hash() {
        let derived = Derived {
            password_identifiers: vec!["a@x.io".into()],
            ..Derived::default()
        };
        let now = Utc::now();
        let first = merge_credentials(
            &derived,
            &[],
            Some(json!({"hashed_password": "h"})),
            None,
            now,
        );
        assert_eq!(first[0].identifiers, vec!["a@x.io"]);
        let derived2 = Derived {
            password_identifiers: vec!["b@x.io".into()],
            ..Derived::default()
        };
        let second = merge_credentials(&derived2, &first, None, None, now);
        assert_eq!(second[0].identifiers, vec!["b@x.io"]);
        assert_eq!(second[0].config, json!({"hashed_password": "h"}));
    }

    #[test]
    fn oidc_identifiers_are_provider_and_subject() {
        let creds = merge_credentials(
            &Derived::default(),
            &[],
            None,
            Some(json!({"providers": [{"provider": "google", "subject": "123"}]})),
            Utc::now(),
        );
        assert_eq!(creds[0].kind, "oidc");
        assert_eq!(creds[0].identifiers, vec!["google:123"]);
    }
}
