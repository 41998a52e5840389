//! The methods flows offer. A strategy owns its form nodes, the fields of its submission and
//! its logic (minting and checking codes, checking passwords, ...); it never writes HTTP.

pub mod code;
pub mod link;
pub mod oidc;
pub mod password;
pub mod profile;

use serde_json::{Map, Value};

use crate::flow::core::{Method, MethodError, ParseMethod, Secret};

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

/// A submission of the code or the link method: what verification and recovery offer. A link
/// token selects the link method whatever `method` says (Kratos's link strategy takes it
/// first); no method means the flow's configured one.
#[derive(Debug)]
pub enum CodeOrLink {
    Code(code::CodeFields),
    Link(link::LinkFields),
    /// No method named: the configured one applies.
    Default(code::CodeFields),
}

/// What a code-or-link submission asks for.
#[derive(Debug)]
pub enum Asked {
    /// A link's token to use.
    Token(Secret),
    /// A send (an address) or a code, by this method.
    Fields(Method, code::CodeFields),
}

impl ParseMethod for CodeOrLink {
    fn parse(method: Option<&str>, mut fields: Map<String, Value>) -> Result<Self, MethodError> {
        if link::LinkFields::has_token(&fields) {
            return Ok(Self::Link(link::LinkFields::take(&mut fields)));
        }
        match method {
            None => Ok(Self::Default(code::CodeFields::take(&mut fields))),
            Some("code") => Ok(Self::Code(code::CodeFields::take(&mut fields))),
            Some("link") => Ok(Self::Link(link::LinkFields::take(&mut fields))),
            Some(_) => Err(MethodError::Unknown(
                r#"value must be one of "code", "link""#,
            )),
        }
    }
}

impl CodeOrLink {
    /// The request sorted; `primary` is the flow's configured method.
    pub fn asked(self, primary: Method) -> Asked {
        match self {
            Self::Link(link::LinkFields { token: Some(t), .. }) => Asked::Token(t),
            Self::Link(l) => Asked::Fields(
                Method::Link,
                code::CodeFields {
                    email: l.email,
                    code: None,
                },
            ),
            Self::Code(c) => Asked::Fields(Method::Code, c),
            Self::Default(c) => Asked::Fields(primary, c),
        }
    }

    /// Whether it carries a link's token.
    pub fn has_token(&self) -> bool {
        matches!(self, Self::Link(l) if l.token.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(method: Option<&str>, fields: Value) -> Result<CodeOrLink, MethodError> {
        let Value::Object(m) = fields else {
            unreachable!()
        };
        CodeOrLink::parse(method, m)
    }

    #[test]
    fn a_token_selects_the_link_method() {
        assert!(matches!(
            parse(Some("code"), json!({"token": "t"})),
            Ok(CodeOrLink::Link(_))
        ));
        assert!(matches!(
            parse(None, json!({"email": "a@x.io"})),
            Ok(CodeOrLink::Default(_))
        ));
        assert!(matches!(
            parse(Some("code"), json!({"code": "123456"})),
            Ok(CodeOrLink::Code(code::CodeFields { code: Some(_), .. }))
        ));
        assert!(parse(Some("password"), json!({})).is_err());
        assert!(parse(Some("totp"), json!({})).is_err());
    }
}
