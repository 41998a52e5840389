//! The password policy applied before any hashing (issue 4, item 1), in NIST SP 800-63B's
//! spirit: a minimum length counted in code points, a hard cap in bytes, no composition
//! rules, a bundled list of common passwords and a check against the identity's own
//! identifiers. Each refusal carries its Kratos message id.

mod messages;
mod policy;

pub use policy::{MAX_PASSWORD_BYTES, PasswordPolicy, PolicyViolation, edit_distance_within};
