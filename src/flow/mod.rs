//! Self-service flows: persisted resources with a state machine. `core` holds what every
//! kind shares; each kind is a module that offers some strategies (`crate::strategy`).

pub mod core;
pub mod errors;
pub mod login;
pub mod oidc;
pub mod recovery;
pub mod registration;
pub mod settings;
pub mod verification;

pub use self::core::{FlowKind, FlowType};
