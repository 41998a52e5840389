//! The methods flows offer. A strategy owns its form nodes, the fields of its submission and
//! its logic (minting and checking codes, checking passwords, ...); it never writes HTTP.

pub mod code;
pub mod link;
pub mod oidc;
pub mod password;
pub mod profile;

use serde_json::{Map, Value};

use crate::flow::core::{MethodError, ParseMethod};

/// A submission of the password or the oidc method: what sign-in and sign-up offer.
#[derive(Debug)]
pub enum PasswordOrOidc {
    Password(password::PasswordFields),
    Oidc(oidc::OidcFields),
}

impl ParseMethod for PasswordOrOidc {
    fn parse(method: Option<&str>, mut fields: Map<String, Value>) -> Result<Self, MethodError> {
        if oidc::OidcFields::requested(method, &fields) {
            return Ok(Self::Oidc(oidc::OidcFields::take(&mut fields)));
        }
        match method {
            Some("password") => Ok(Self::Password(password::PasswordFields::take(fields))),
            _ => Err(MethodError::NoStrategy),
        }
    }
}
