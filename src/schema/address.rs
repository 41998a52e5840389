//! Address channels and the normalisation every stored address and identifier goes through.
//!
//! One function per channel, used by the schema (format checks and derivation) and by every
//! flow that looks an address up, so that a lookup and a stored value can never disagree.

use std::fmt::Write as _;
use std::str::FromStr;

use email_address::{EmailAddress, Options as EmailOptions};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 limits a forward path to 256 octets including the angle brackets.
const MAX_EMAIL_LEN: usize = 254;
/// E.164 numbers have at most 15 digits; 64 leaves room for spaces and punctuation while
/// keeping crafted input away from the phone number parser, which has had panics on such input.
const MAX_PHONE_INPUT_LEN: usize = 64;

/// The channel an address is reached through (`via` in Kratos JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Email,
    Sms,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Email => "email",
            Via::Sms => "sms",
        }
    }

    /// Normalises `raw` the way addresses on this channel are stored.
    pub fn normalize(self, raw: &str) -> Result<String, AddressError> {
        match self {
            Via::Email => normalize_email(raw),
            Via::Sms => normalize_phone(raw),
        }
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Via {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "email" => Ok(Via::Email),
            "sms" => Ok(Via::Sms),
            other => Err(AddressError::UnknownVia(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the address contains a control character")]
    ControlCharacter,
    #[error("not a valid email address")]
    InvalidEmail,
    #[error("not a valid phone number")]
    InvalidPhone,
    #[error("unknown channel {0:?}, expected \"email\" or \"sms\"")]
    UnknownVia(String),
}

/// The one canonical form of an email address, for storing and for every lookup: trimmed,
/// the local part in Unicode NFC and lower case, the domain as IDNA A-labels (punycode, UTS #46
/// mapping, STD3 rules), so `Kim@Bücher.DE` and `kim@xn--bcher-kva.de` are one address.
///
/// A-labels rather than Unicode: they are what DNS and SMTP without SMTPUTF8 use, so the stored
/// form is also the form mail is sent to; UTS #46 maps case and compatibility variants to one
/// label, which a Unicode comparison would need the same mapping for; and mixed-script look-alikes
/// stay visibly distinct (`xn--…`). Lower-casing the local part is not RFC-correct but is what
/// Kratos does, and it keeps `Alice@x` and `alice@x` from becoming two accounts.
pub fn normalize_email(raw: &str) -> Result<String, AddressError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AddressError::Empty);
    }
    // Checked before parsing: CR/LF in an address is a header-injection vector for the mailer.
    if trimmed.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    if trimmed.chars().count() > MAX_EMAIL_LEN {
        return Err(AddressError::TooLong { max: MAX_EMAIL_LEN });
    }
    let (local, domain) = trimmed.rsplit_once('@').ok_or(AddressError::InvalidEmail)?;
    let local: String = local.nfc().collect::<String>().to_lowercase();
    let domain = if domain.starts_with('[') {
        // An address literal (`[192.0.2.1]`) has no labels to map.
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(domain).map_err(|_| AddressError::InvalidEmail)?
    };
    let canonical = format!("{local}@{domain}");
    if canonical.chars().count() > MAX_EMAIL_LEN {
        return Err(AddressError::TooLong { max: MAX_EMAIL_LEN });
    }
    // `EmailAddress::is_valid` minus display text: `Name <a@b>` is not an address we can
    // store or compare, so it is rejected here and in the schema's `email` format alike.
    if EmailAddress::parse_with_options(&canonical, email_options()).is_err() {
        return Err(AddressError::InvalidEmail);
    }
    Ok(canonical)
}

/// The `email_address` options shared with the schema's `email` format check.
pub(crate) fn email_options() -> EmailOptions {
    EmailOptions::default().without_display_text()
}

/// Parses an international phone number (`+` and country code required) into E.164.
pub fn normalize_phone(raw: &str) -> Result<String, AddressError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AddressError::Empty);
    }
    if trimmed.len() > MAX_PHONE_INPUT_LEN {
        return Err(AddressError::TooLong {
            max: MAX_PHONE_INPUT_LEN,
        });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    // The parser would turn vanity letters into digits and split off extensions; neither is
    // something an SMS can be sent to, so only digits and common separators are accepted.
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '/'))
    {
        return Err(AddressError::InvalidPhone);
    }
    let number = phonenumber::parse(None, trimmed).map_err(|_| AddressError::InvalidPhone)?;
    if !number.is_valid() || number.extension().is_some() {
        return Err(AddressError::InvalidPhone);
    }
    // The formatter reports an unknown country code as fmt::Error rather than panicking only
    // when written through `write!`; `to_string()` would panic on it.
    let mut e164 = String::with_capacity(16);
    write!(e164, "{}", number.format().mode(phonenumber::Mode::E164))
        .map_err(|_| AddressError::InvalidPhone)?;
    Ok(e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let cases = [
            ("alice@example.com", "alice@example.com"),
            ("  Alice@Example.COM ", "alice@example.com"),
            (
                "\tBOB.smith+tag@sub.example.org\t",
                "bob.smith+tag@sub.example.org",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_email(raw).as_deref(), Ok(want), "input {raw:?}");
        }
    }

    #[test]
    fn idn_domains_have_one_form_whichever_is_typed() {
        let want = Ok("kim@xn--bcher-kva.de".to_owned());
        for raw in [
            "kim@bücher.de",
            "Kim@Bücher.DE",
            "kim@xn--bcher-kva.de",
            "KIM@XN--BCHER-KVA.DE",
            "kim@bu\u{308}cher.de", // ü as u + combining diaeresis
            "kim@ｂücher.de",       // a full-width b
        ] {
            assert_eq!(normalize_email(raw), want, "{raw:?}");
        }
        // The local part is NFC and lower case too.
        assert_eq!(
            normalize_email("Jose\u{301}@example.com"),
            normalize_email("jos\u{e9}@example.com")
        );
        for bad in ["kim@xn--zz.de", "kim@bad_label.de", "kim@-dash.de"] {
            assert_eq!(
                normalize_email(bad),
                Err(AddressError::InvalidEmail),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_emails_are_rejected() {
        let cases = [
            ("", AddressError::Empty),
            ("   ", AddressError::Empty),
            ("not-an-email", AddressError::InvalidEmail),
            ("a@", AddressError::InvalidEmail),
            ("Alice <alice@example.com>", AddressError::InvalidEmail),
            (
                "alice@example.com\r\nBcc: x@y.z",
                AddressError::ControlCharacter,
            ),
            ("alice\n@example.com", AddressError::ControlCharacter),
            ("ali\0ce@example.com", AddressError::ControlCharacter),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_email(raw), Err(want), "input {raw:?}");
        }
    }

    #[test]
    fn overlong_email_is_rejected() {
        // 64-char local part plus labels of 63 chars: valid per label, 255 chars in total.
        let label = "a".repeat(63);
        let long = format!(
            "{}@{label}.{label}.{label}.{}",
            "b".repeat(64),
            "c".repeat(30)
        );
        assert!(long.len() > MAX_EMAIL_LEN);
        assert_eq!(
            normalize_email(&long),
            Err(AddressError::TooLong { max: MAX_EMAIL_LEN })
        );
        let ok = format!("{}@{label}.com", "b".repeat(64));
        assert!(normalize_email(&ok).is_ok());
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        let cases = [
            ("+49 151 12345678", "+4915112345678"),
            ("+4915112345678", "+4915112345678"),
            (" +1 (415) 555-2671 ", "+14155552671"),
            ("+44 20 7946 0958", "+442079460958"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+49 (0)30 1234567", "+49301234567"),
            ("+1.415.555.2671", "+14155552671"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_phone(raw).as_deref(), Ok(want), "input {raw:?}");
        }
    }

    #[test]
    fn bad_phones_are_rejected() {
        let cases = [
            "",
            "garbage",
            "12",
            "0151 12345678",  // national format without a country code
            "+1 800 FLOWERS", // vanity letters
            "+49 151 1234abcd",
            "+123456789012345678901", // 21 digits
            "+12345678901234567890",  // 20 digits
            "+49 151 12345678 ext. 12",
            "+49 151\r\n12345678", // trailing CR/LF would only be trimmed
            "+99 123 456 789",     // unassigned country code
        ];
        for raw in cases {
            assert!(normalize_phone(raw).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn overlong_phone_input_is_rejected_before_parsing() {
        let long = format!("+49 151 12345678{}", " ".repeat(60));
        // Trailing spaces are trimmed, so pad the middle instead.
        let padded = format!("+49{}15112345678", " ".repeat(60));
        assert!(normalize_phone(&long).is_ok());
        assert_eq!(
            normalize_phone(&padded),
            Err(AddressError::TooLong {
                max: MAX_PHONE_INPUT_LEN
            })
        );
    }

    #[test]
    fn via_round_trips() {
        for via in [Via::Email, Via::Sms] {
            assert_eq!(via.as_str().parse::<Via>(), Ok(via));
            let json = serde_json::to_string(&via).expect("serialise");
            assert_eq!(json, format!("\"{}\"", via.as_str()));
        }
        assert!("pigeon".parse::<Via>().is_err());
    }
}
