//! Sessions: issued on login and (with the `session` hook) on registration, presented as the
//! `ory_kratos_session` cookie or an `ory_st_` token, looked up by the token's digest.

mod manage;
mod model;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use manage::{ActiveFilter, SessionPage};
pub use model::{
    AuthMethod, Device, LOGOUT_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, Session, Token, digest,
};

use crate::config::Settings;
use crate::crypto::Keyring;
use crate::identity::{Identity, IdentityState};
use crate::persistence::sessions::NewSession;
use crate::persistence::{Store, StoreError};
use crate::service::ServiceError;

/// A session about to be stored, with the secret only its holder gets.
#[derive(Debug, Clone)]
pub struct Issued {
    pub session: Session,
    pub token: Token,
    token_hash: String,
}

impl Issued {
    pub fn rows(&self) -> NewSession<'_> {
        NewSession {
            session: &self.session,
            token_hash: &self.token_hash,
        }
    }
}

const LOGOUT_PURPOSE: &str = "logout";

/// Where a session was created from (shown in `devices`).
#[derive(Debug, Clone, Default)]
pub struct DeviceInfo {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SessionService {
    store: Store,
    settings: Arc<Settings>,
    keyring: Keyring,
}

impl SessionService {
    pub fn new(store: Store, settings: Arc<Settings>, keyring: Keyring) -> Self {
        Self {
            store,
            settings,
            keyring,
        }
    }

    /// The session's logout token: an HMAC of its id under the first secret, so it is the
    /// same in every tab, needs no storage and is useless without the session's cookie.
    pub fn logout_token(&self, session: &Session) -> String {
        let mac = self.keyring.sign_hex(LOGOUT_PURPOSE, session.id.as_bytes());
        format!("{LOGOUT_TOKEN_PREFIX}{mac}")
    }

    /// Ends `session` if `presented` is its logout token (under any configured secret);
    /// `false` otherwise, and for a session that had already ended.
    pub async fn logout_with_token(
        &self,
        session: &Session,
        presented: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let Some(mac) = presented.strip_prefix(LOGOUT_TOKEN_PREFIX) else {
            return Ok(false);
        };
        let matches = self
            .keyring
            .candidates_hex(LOGOUT_PURPOSE, session.id.as_bytes())
            .iter()
            .fold(false, |hit, c| {
                crate::crypto::constant_time_eq(c.as_bytes(), mac.as_bytes()) | hit
            });
        if !matches {
            return Ok(false);
        }
        Ok(self.store.deactivate_session(session.id, now).await?)
    }

    /// A fresh session (new id, new tokens) for `identity`, authenticated now by `method`.
    pub fn issue(
        &self,
        identity: Uuid,
        method: &str,
        provider: Option<String>,
        device: DeviceInfo,
        now: DateTime<Utc>,
    ) -> Issued {
        let token = Token::generate(SESSION_TOKEN_PREFIX);
        let session = Session {
            id: Uuid::new_v4(),
            identity_id: identity,
            active: true,
            aal: "aal1".into(),
            authentication_methods: vec![AuthMethod {
                method: method.into(),
                aal: "aal1".into(),
                completed_at: now,
                provider,
            }],
            devices: vec![Device {
                id: Uuid::new_v4(),
                ip_address: device.ip_address,
                user_agent: device.user_agent.map(|u| u.chars().take(512).collect()),
                location: String::new(),
            }],
            authenticated_at: now,
            issued_at: now,
            expires_at: now + self.settings.session.lifespan.chrono(),
        };
        Issued {
            token_hash: token.digest(),
            session,
            token,
        }
    }

    /// Stores a login's session; the browser's previous session (if any) ends with it.
    pub async fn persist(&self, issued: &Issued, replaces: Option<Uuid>) -> Result<(), StoreError> {
        self.store.replace_session(issued.rows(), replaces).await
    }

    /// The active session behind a presented token, with its identity. Expired or revoked
    /// sessions, and sessions of disabled identities, are `None`.
    pub async fn lookup(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, Identity)>, ServiceError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let Some(session) = self.store.session_by_token_hash(&digest(token)).await? else {
            return Ok(None);
        };
        if !session.is_usable(now) {
            return Ok(None);
        }
        let Some(identity) = self.store.get_identity(session.identity_id).await? else {
            return Ok(None);
        };
        if identity.state != IdentityState::Active {
            return Ok(None);
        }
        Ok(Some((session, identity)))
    }

    /// Extends a session by the configured lifespan, unless `earliest_possible_extend` says
    /// it is too early; returns the session as it is now.
    pub async fn extend(
        &self,
        mut session: Session,
        now: DateTime<Utc>,
    ) -> Result<Session, ServiceError> {
        let cfg = &self.settings.session;
        let too_early = cfg
            .earliest_possible_extend
            .is_some_and(|window| session.expires_at - window.chrono() > now);
        if session.is_usable(now) && !too_early {
            session.expires_at = now + cfg.lifespan.chrono();
            self.store
                .extend_session(session.id, session.expires_at, now)
                .await?;
        }
        Ok(session)
    }

    /// Logout of an api client by its session token; `false` if no active session matched.
    pub async fn logout_by_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        match self.store.session_by_token_hash(&digest(token)).await? {
            Some(s) if s.active => Ok(self.store.deactivate_session(s.id, now).await?),
            _ => Ok(false),
        }
    }

    /// Whether a session authenticated recently enough for a privileged change (settings).
    pub fn is_privileged(&self, session: &Session, now: DateTime<Utc>) -> bool {
        let max_age = self
            .settings
            .selfservice
            .flows
            .settings
            .privileged_session_max_age
            .map_or(chrono::Duration::minutes(15), |d| d.chrono());
        now - session.authenticated_at <= max_age
    }
}
