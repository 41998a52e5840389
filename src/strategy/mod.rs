//! The methods flows offer. A strategy owns its form nodes, the fields of its submission and
//! its logic (minting and checking codes, checking passwords, ...); it never writes HTTP.

pub mod code;
pub mod link;
pub mod oidc;
pub mod password;
pub mod profile;
