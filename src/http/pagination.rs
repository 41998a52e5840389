//! Kratos keyset pagination: `page_size`, an opaque `page_token`, and a `Link` header.
//! Tokens are MAC'd so a forged one is refused instead of read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use uuid::Uuid;

use super::ApiError;
use crate::crypto::Keyring;

pub const DEFAULT_PAGE_SIZE: u32 = 250;
pub const MAX_PAGE_SIZE: u32 = 1000;
const PURPOSE: &str = "page-token";

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page_size: Option<u32>,
    pub per_page: Option<u32>,
    pub page_token: Option<String>,
    pub page: Option<String>,
}

impl PageQuery {
    pub fn size(&self) -> Result<u32, ApiError> {
        let size = self
            .page_size
            .or(self.per_page)
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(ApiError::bad_request(format!(
                "page_size must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(size)
    }

    /// `size` with an endpoint's own default and maximum (the courier uses Kratos's 100/500).
    #[allow(clippy::result_large_err)]
    pub fn size_within(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        let size = self.page_size.or(self.per_page).unwrap_or(default);
        if size == 0 || size > max {
            return Err(ApiError::bad_request(format!(
                "page_size must be between 1 and {max}"
            )));
        }
        Ok(size)
    }

    pub fn after(&self, keys: &Keyring) -> Result<Option<Uuid>, ApiError> {
        if self.page.is_some() {
            return Err(ApiError::bad_request(
                "Page-number pagination is not supported; follow the page_token in the Link header.",
            ));
        }
        match self.page_token.as_deref() {
            None | Some("") => Ok(None),
            Some(token) => open(keys, token)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request("The page_token is invalid.")),
        }
    }
}

pub fn seal(keys: &Keyring, last: Uuid) -> String {
    let mut bytes = last.as_bytes().to_vec();
    bytes.extend_from_slice(&keys.sign(PURPOSE, last.as_bytes())[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn open(keys: &Keyring, token: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let (id, tag) = bytes.split_at(16);
    keys.verify(PURPOSE, id, tag)
        .then(|| Uuid::from_slice(id).ok())
        .flatten()
}

/// `Link: <...&page_token=...>; rel="next"` plus `rel="first"`, as Kratos sends it.
pub fn link_header(base: &str, size: u32, next: Option<String>, extra_query: &str) -> String {
    let mut out = format!("<{base}?page_size={size}{extra_query}>; rel=\"first\"");
    if let Some(token) = next {
        out.push_str(&format!(
            ",<{base}?page_size={size}&page_token={token}{extra_query}>; rel=\"next\""
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_and_forged_ones_do_not() {
        let k = Keyring::new(&["pagination-secret-123"]);
        let id = Uuid::new_v4();
        let token = seal(&k, id);
        assert_eq!(open(&k, &token), Some(id));
        let forged = URL_SAFE_NO_PAD.encode([id.as_bytes().as_slice(), &[0u8; 16]].concat());
        assert_eq!(open(&k, &forged), None);
        assert_eq!(open(&k, "garbage!"), None);
    }
}
