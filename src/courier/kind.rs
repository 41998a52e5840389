//! The kinds of message the courier knows, with their Kratos template types and models.

use serde_json::{Map, Value, json};

use crate::persistence::Channel;

/// A message template. `as_str()` is the Kratos `template_type`; `dir()` is where its files
/// live under `templates/courier/` (and under `courier.template_override_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    VerificationCodeValid,
    VerificationCodeInvalid,
    VerificationValid,
    VerificationInvalid,
    RecoveryCodeValid,
    RecoveryCodeInvalid,
    RecoveryValid,
    RecoveryInvalid,
    LoginCodeValid,
    RegistrationCodeValid,
    /// Sent to the old address when a verified address is replaced.
    VerifiableAddressChanged,
    /// The partner phone-verification API's code (iDenfy style), by SMS or voice call.
    PhoneVerificationCode,
    /// Sent instead of a code when someone registers with an address that already has an
    /// account, so the sign-up answer does not reveal which addresses are registered.
    RegistrationDuplicate,
    /// Sent to the account's email addresses when its password was changed (SECURITY.md J2).
    PasswordChanged,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 14] = [
        Self::VerificationCodeValid,
        Self::VerificationCodeInvalid,
        Self::VerificationValid,
        Self::VerificationInvalid,
        Self::RecoveryCodeValid,
        Self::RecoveryCodeInvalid,
        Self::RecoveryValid,
        Self::RecoveryInvalid,
        Self::LoginCodeValid,
        Self::RegistrationCodeValid,
        Self::VerifiableAddressChanged,
        Self::PhoneVerificationCode,
        Self::RegistrationDuplicate,
        Self::PasswordChanged,
    ];

    /// The Kratos `template_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerificationCodeValid => "verification_code_valid",
            Self::VerificationCodeInvalid => "verification_code_invalid",
            Self::VerificationValid => "verification_valid",
            Self::VerificationInvalid => "verification_invalid",
            Self::RecoveryCodeValid => "recovery_code_valid",
            Self::RecoveryCodeInvalid => "recovery_code_invalid",
            Self::RecoveryValid => "recovery_valid",
            Self::RecoveryInvalid => "recovery_invalid",
            Self::LoginCodeValid => "login_code_valid",
            Self::RegistrationCodeValid => "registration_code_valid",
            Self::VerifiableAddressChanged => "verifiable_address_changed",
            Self::PhoneVerificationCode => "phone_verification_code",
            Self::RegistrationDuplicate => "registration_duplicate",
            Self::PasswordChanged => "password_changed",
        }
    }

    /// The `template_type` the Kratos v26.2 SDKs accept (their enum holds Kratos's own kinds
    /// and `stub`): Verity's own kinds read `stub` there, and their name goes in
    /// `verity_template_type` beside it.
    pub fn kratos_type(template_type: &str) -> &str {
        match Self::parse(template_type) {
            Some(
                Self::VerifiableAddressChanged
                | Self::PhoneVerificationCode
                | Self::RegistrationDuplicate
                | Self::PasswordChanged,
            ) => "stub",
            _ => template_type,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `<name>/<valid|invalid>`, as in Kratos's template tree and `courier.templates`.
    pub fn dir(self) -> &'static str {
        match self {
            Self::VerificationCodeValid => "verification_code/valid",
            Self::VerificationCodeInvalid => "verification_code/invalid",
            Self::VerificationValid => "verification/valid",
            Self::VerificationInvalid => "verification/invalid",
            Self::RecoveryCodeValid => "recovery_code/valid",
            Self::RecoveryCodeInvalid => "recovery_code/invalid",
            Self::RecoveryValid => "recovery/valid",
            Self::RecoveryInvalid => "recovery/invalid",
            Self::LoginCodeValid => "login_code/valid",
            Self::RegistrationCodeValid => "registration_code/valid",
            Self::VerifiableAddressChanged => "verifiable_address_changed/valid",
            Self::PhoneVerificationCode => "phone_verification_code/valid",
            Self::RegistrationDuplicate => "registration_duplicate/valid",
            Self::PasswordChanged => "password_changed/valid",
        }
    }

    /// The kind stored under `courier.templates.<name>.<variant>`.
    pub fn from_dir(name: &str, variant: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.dir() == format!("{name}/{variant}"))
    }

    /// Model keys a caller must supply (`to` defaults to the recipient).
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            Self::VerificationCodeValid => &[
                "to",
                "verification_code",
                "verification_url",
                "identity",
                "expires_in_minutes",
            ],
            Self::VerificationValid => {
                &["to", "verification_url", "identity", "expires_in_minutes"]
            }
            Self::RecoveryCodeValid => &["to", "recovery_code", "identity", "expires_in_minutes"],
            Self::RecoveryValid => &["to", "recovery_url", "identity", "expires_in_minutes"],
            Self::LoginCodeValid => &["to", "login_code", "identity", "expires_in_minutes"],
            Self::RegistrationCodeValid => {
                &["to", "registration_code", "traits", "expires_in_minutes"]
            }
            Self::VerifiableAddressChanged | Self::PasswordChanged => &["to", "identity"],
            Self::RegistrationDuplicate => &["to", "login_url"],
            Self::PhoneVerificationCode => &["to", "code", "expires_in_minutes"],
            Self::VerificationCodeInvalid
            | Self::VerificationInvalid
            | Self::RecoveryCodeInvalid
            | Self::RecoveryInvalid => &["to"],
        }
    }

    /// Model keys that may be absent; they are set to `null`, so templates test them with
    /// `{{#if}}` while strict mode still rejects any other missing name.
    pub fn optional_fields(self) -> &'static [&'static str] {
        match self {
            Self::PhoneVerificationCode => &["request_url_domain"],
            Self::VerificationCodeValid
            | Self::RecoveryCodeValid
            | Self::LoginCodeValid
            | Self::RegistrationCodeValid => &[
                "request_url",
                "request_url_domain",
                "transient_payload",
                "oauth2_login_request",
            ],
            _ => &["request_url", "transient_payload", "oauth2_login_request"],
        }
    }

    /// Whether Verity ships a template for this channel (overrides may add more).
    pub fn builtin_channels(self) -> &'static [Channel] {
        match self {
            Self::VerificationCodeValid
            | Self::RecoveryCodeValid
            | Self::LoginCodeValid
            | Self::RegistrationCodeValid => &[Channel::Email, Channel::Sms, Channel::Voice],
            Self::PhoneVerificationCode => &[Channel::Sms, Channel::Voice],
            _ => &[Channel::Email],
        }
    }

    /// A complete model used to check every template when the courier starts.
    pub fn sample_model(self) -> Value {
        let mut m = Map::new();
        let sample = json!({
            "to": "someone@example.com",
            "verification_code": "123456",
            "verification_url": "https://id.example.com/self-service/verification?flow=f&code=123456",
            "recovery_code": "123456",
            "recovery_url": "https://id.example.com/self-service/recovery?flow=f&token=t",
            "login_code": "123456",
            "registration_code": "123456",
            "code": "1234",
            "identity": {"id": "00000000-0000-0000-0000-000000000000", "schema_id": "default",
                         "traits": {"email": "someone@example.com"}},
            "traits": {"email": "someone@example.com"},
            "expires_in_minutes": 10,
            "request_url": "https://id.example.com/self-service/verification/browser",
            "request_url_domain": "id.example.com",
            "transient_payload": {},
            "oauth2_login_request": null,
            "login_url": "https://id.example.com/self-service/login/browser",
        });
        for key in self.required_fields().iter().chain(self.optional_fields()) {
            m.insert((*key).to_owned(), sample[*key].clone());
        }
        Value::Object(m)
    }
}

/// `verification_url` → `VerificationURL`, as Kratos's Go templates name the fields.
pub fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| match word {
            "url" | "id" => word.to_uppercase(),
            _ => {
                let mut c = word.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        })
        .collect()
}

/// Adds PascalCase aliases of the top-level keys, so `{{VerificationCode}}` works like
/// `{{verification_code}}`.
pub fn with_aliases(model: &Map<String, Value>) -> Value {
    let mut out = model.clone();
    for (k, v) in model {
        let alias = pascal_case(k);
        if !out.contains_key(&alias) {
            out.insert(alias, v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in TemplateKind::ALL {
            assert_eq!(TemplateKind::parse(k.as_str()), Some(k));
            let (name, variant) = k.dir().split_once('/').unwrap();
            assert_eq!(TemplateKind::from_dir(name, variant), Some(k));
        }
    }

    #[test]
    fn go_names_are_derived() {
        assert_eq!(pascal_case("verification_url"), "VerificationURL");
        assert_eq!(pascal_case("request_url_domain"), "RequestURLDomain");
        assert_eq!(pascal_case("to"), "To");
        assert_eq!(pascal_case("expires_in_minutes"), "ExpiresInMinutes");
    }

    #[test]
    fn samples_hold_every_field() {
        for k in TemplateKind::ALL {
            let m = k.sample_model();
            for f in k.required_fields() {
                assert!(!m[*f].is_null(), "{k:?} sample lacks {f}");
            }
        }
    }
}
