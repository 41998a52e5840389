//! The password policy applied before any hashing (issue 4, item 1), in NIST SP 800-63B's
//! spirit: a minimum length counted in code points, a hard cap in bytes, no composition
//! rules, a bundled list of common passwords and a check against the identity's own
//! identifiers. Each refusal carries its Kratos message id.

mod messages;
mod policy;

pub use policy::{
    MAX_PASSWORD_BYTES, PasswordPolicy, PolicyViolation, common_list_len, edit_distance_within,
};

/// The form a password is checked, hashed and compared in: NFKC (NIST SP 800-63B 5.1.1.2),
/// so the composed and decomposed spellings of one password are the same password.
pub fn normalize(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

#[cfg(test)]
mod normalize_tests {
    #[test]
    fn composed_and_decomposed_forms_agree() {
        assert_eq!(
            super::normalize("caf\u{e9}"),
            super::normalize("cafe\u{301}")
        );
        assert_eq!(super::normalize("plain"), "plain");
    }
}
