//! Identities: the stored model and the rules that turn admin input into a valid identity.

mod assemble;
mod batch;
mod input;
mod model;
mod service;

pub use batch::{BATCH_LIMIT, BATCH_PLAINTEXT_LIMIT, BatchItem, BatchPatch, BatchResult};
pub use input::{AddressInput, CredentialsInput, IdentityInput, OidcProviderInput, PasswordInput};
pub use model::{
    AddressStatus, Credential, Identity, IdentityState, RecoveryAddress, VerifiableAddress,
    VerifiedRule,
};
pub use service::{IdentityError, IdentityService};
