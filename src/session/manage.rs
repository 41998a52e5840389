//! Looking at and ending sessions, for the admin API and for a user's own session list:
//! every call the handlers make, with store errors mapped to [`ServiceError`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Session, SessionService};
use crate::service::ServiceError;

/// One keyset page of every identity's sessions, newest first.
#[derive(Debug)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub has_more: bool,
}

/// Which sessions a listing shows: all, only usable ones, or only ended or expired ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveFilter {
    All,
    Active,
    Inactive,
}

impl ActiveFilter {
    /// Kratos's `active` query parameter (Go's `strconv.ParseBool`); `None` when malformed.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw.unwrap_or("") {
            "" => Some(Self::All),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(Self::Active),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(Self::Inactive),
            _ => None,
        }
    }

    fn as_option(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Active => Some(true),
            Self::Inactive => Some(false),
        }
    }
}

impl SessionService {
    /// One session by id.
    pub async fn get(&self, id: Uuid) -> Result<Session, ServiceError> {
        self.store
            .get_session(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Every identity's sessions, `limit` at a time after the session `after`.
    pub async fn list_all(
        &self,
        after: Option<Uuid>,
        limit: u32,
        active: ActiveFilter,
        now: DateTime<Utc>,
    ) -> Result<SessionPage, ServiceError> {
        let (sessions, has_more) = self
            .store
            .list_all_sessions(after, limit, active.as_option(), now)
            .await?;
        Ok(SessionPage { sessions, has_more })
    }

    /// An identity's sessions, newest sign-in first.
    pub async fn list_for(
        &self,
        identity: Uuid,
        active: ActiveFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, ServiceError> {
        let all = self
            .store
            .list_sessions(identity, active == ActiveFilter::Active)
            .await?;
        Ok(all
            .into_iter()
            .filter(|s| match active {
                ActiveFilter::All => true,
                ActiveFilter::Active => s.is_usable(now),
                ActiveFilter::Inactive => !s.is_usable(now),
            })
            .collect())
    }

    /// Ends one session (already ended is fine).
    pub async fn revoke(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), ServiceError> {
        self.store.deactivate_session(id, now).await?;
        Ok(())
    }

    /// Ends `id` only if it belongs to `identity`; `NotFound` otherwise, so a user cannot
    /// learn about another identity's sessions.
    pub async fn revoke_own(
        &self,
        identity: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        match self.store.get_session(id).await? {
            Some(s) if s.identity_id == identity => self.revoke(id, now).await,
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Ends every active session of `identity` but `keep`; how many ended.
    pub async fn revoke_all(
        &self,
        identity: Uuid,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<u64, ServiceError> {
        Ok(self
            .store
            .deactivate_identity_sessions(identity, keep, now)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_reads_as_go_parses_booleans() {
        assert_eq!(ActiveFilter::parse(None), Some(ActiveFilter::All));
        assert_eq!(ActiveFilter::parse(Some("")), Some(ActiveFilter::All));
        assert_eq!(
            ActiveFilter::parse(Some("true")),
            Some(ActiveFilter::Active)
        );
        assert_eq!(ActiveFilter::parse(Some("1")), Some(ActiveFilter::Active));
        assert_eq!(ActiveFilter::parse(Some("F")), Some(ActiveFilter::Inactive));
        assert_eq!(ActiveFilter::parse(Some("yes")), None);
    }
}
