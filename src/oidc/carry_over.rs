//! Carrying the provider's "this address is verified" over to the identity's own addresses.

use chrono::{DateTime, SubsecRound, Utc};

use crate::identity::{AddressStatus, VerifiableAddress};
use crate::schema::Via;

/// Marks every derived address whose `via` and normalised value the mapper listed in
/// `verified_addresses` as verified at `now` (whole seconds). Addresses the traits do not
/// produce cannot be listed into existence, and already verified ones keep their timestamp.
/// Returns how many addresses changed.
pub fn apply_verified_addresses(
    addresses: &mut [VerifiableAddress],
    verified: &[(Via, String)],
    now: DateTime<Utc>,
) -> usize {
    let now = now.trunc_subsecs(0);
    let mut changed = 0;
    for address in addresses.iter_mut().filter(|a| !a.verified) {
        let listed = verified
            .iter()
            .any(|(via, value)| *via == address.via && *value == address.value);
        if listed {
            address.verified = true;
            address.status = AddressStatus::Completed;
            address.verified_at = Some(now);
            address.updated_at = now;
            changed += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn address(via: Via, value: &str) -> VerifiableAddress {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        VerifiableAddress {
            id: Uuid::now_v7(),
            value: value.to_owned(),
            verified: false,
            via,
            status: AddressStatus::Pending,
            verified_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 3, 2, 1).unwrap() + chrono::Duration::milliseconds(789)
    }

    #[test]
    fn listed_addresses_become_verified_at_whole_seconds() {
        let mut list = vec![
            address(Via::Email, "a@example.com"),
            address(Via::Sms, "+15550100"),
        ];
        let verified = vec![(Via::Email, "a@example.com".to_owned())];
        assert_eq!(apply_verified_addresses(&mut list, &verified, now()), 1);
        assert!(list[0].verified);
        assert_eq!(list[0].status, AddressStatus::Completed);
        let at = list[0].verified_at.unwrap();
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 5, 4, 3, 2, 1).unwrap());
        assert!(!list[1].verified);
        assert_eq!(list[1].status, AddressStatus::Pending);
        assert_eq!(list[1].verified_at, None);
    }

    #[test]
    fn via_must_match_too() {
        let mut list = vec![address(Via::Email, "+15550100")];
        let verified = vec![(Via::Sms, "+15550100".to_owned())];
        assert_eq!(apply_verified_addresses(&mut list, &verified, now()), 0);
        assert!(!list[0].verified);
    }

    #[test]
    fn addresses_not_in_the_traits_are_ignored() {
        let mut list = vec![address(Via::Email, "a@example.com")];
        let verified = vec![(Via::Email, "other@example.com".to_owned())];
        assert_eq!(apply_verified_addresses(&mut list, &verified, now()), 0);
        assert_eq!(list.len(), 1);
        assert!(!list[0].verified);
    }

    #[test]
    fn already_verified_addresses_are_untouched() {
        let mut list = vec![address(Via::Email, "a@example.com")];
        let earlier = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        list[0].verified = true;
        list[0].status = AddressStatus::Completed;
        list[0].verified_at = Some(earlier);
        let before = list.clone();
        let verified = vec![(Via::Email, "a@example.com".to_owned())];
        assert_eq!(apply_verified_addresses(&mut list, &verified, now()), 0);
        assert_eq!(list, before);
    }

    #[test]
    fn an_empty_list_changes_nothing() {
        let mut list = vec![address(Via::Email, "a@example.com")];
        assert_eq!(apply_verified_addresses(&mut list, &[], now()), 0);
        assert!(!list[0].verified);
    }
}
