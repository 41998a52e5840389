//! A sign-up that collides with a squatter: an identity that never verified any of its
//! addresses and has outlived `identity.unverified_lifespan` gives way (SECURITY.md C2).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::RegistrationService;
use crate::audit::{AuditEvent, event};
use crate::flow::core::{FlowError, Request};
use crate::identity::Identity;

impl RegistrationService {
    /// Removes every identity that holds one of `identity`'s addresses or identifiers, never
    /// verified any address and was created more than `identity.unverified_lifespan` ago;
    /// `true` when one was removed (the sign-up may then be stored). Off when the key is unset.
    pub(super) async fn evict_squatters(
        &self,
        identity: &Identity,
        flow_id: uuid::Uuid,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        let Some(lifespan) = self.deps.settings.identity.unverified_lifespan else {
            return Ok(false);
        };
        let store = &self.deps.store;
        let mut holders = BTreeSet::new();
        for a in &identity.verifiable_addresses {
            if let Some(owner) = store.find_address_owner(a.via.as_str(), &a.value).await? {
                holders.insert(owner.identity_id);
            }
        }
        let identifiers = identity.credential("password").map(|c| &c.identifiers);
        for id in identifiers.into_iter().flatten() {
            if let Some(holder) = store.find_identity_by_identifier("password", id).await? {
                holders.insert(holder.id);
            }
        }
        let created_before = now - lifespan.chrono();
        let mut evicted = false;
        for holder in holders {
            if store.delete_if_unverified(holder, created_before).await? {
                event(AuditEvent::UnverifiedIdentityRemoved(req.actor(
                    flow_id,
                    Some(holder),
                    None,
                )));
                evicted = true;
            }
        }
        Ok(evicted)
    }
}
