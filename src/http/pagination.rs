//! Kratos keyset pagination: `page_size`, an opaque `page_token`, and a `Link` header.
//! Tokens are MAC'd so a forged one is refused instead of read. `GET /admin/identities` also
//! serves Kratos's legacy page numbers (`page`, `per_page`), see [`PageQuery::legacy`].

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
    /// Legacy page number, zero-based; read as text so any value is accepted, as Kratos does.
    #[serde(default, deserialize_with = "text_or_number")]
    pub page: Option<String>,
}

/// Kratos's legacy pagination: `per_page` items from item `page × per_page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyPage {
    pub page: u32,
    pub per_page: u32,
}

/// Kratos's bounds for legacy pages: 250 items by default, at most 500, and nothing past the
/// first 1000 items.
const LEGACY_DEFAULT: u32 = 250;
const LEGACY_MAX: u32 = 500;
const LEGACY_REACH: u64 = 1000;

impl LegacyPage {
    pub fn offset(&self) -> u32 {
        self.page * self.per_page
    }

    /// `X-Total-Count`-style `Link` header: first, prev, next and last pages in page numbers.
    pub fn link_header(&self, base: &str, extra_query: &str, total: u64) -> String {
        let per = u64::from(self.per_page);
        let last = total.saturating_sub(1) / per;
        let page = u64::from(self.page);
        let link = |rel: &str, n: u64| {
            format!("<{base}?page={n}&per_page={per}{extra_query}>; rel=\"{rel}\"")
        };
        let mut parts = vec![link("first", 0)];
        if page > 0 {
            parts.push(link("prev", (page - 1).min(last)));
        }
        if page < last {
            parts.push(link("next", page + 1));
        }
        parts.push(link("last", last));
        parts.join(",")
    }
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

    /// The legacy page asked for, by Kratos's rule: `page_token` or `page_size` choose keyset
    /// pagination; otherwise `page` chooses page numbers. A bad `page` reads as 0 and
    /// `per_page` is clamped to 1–500, as in Kratos; a page past the first 1000 items is refused.
    #[allow(clippy::result_large_err)]
    pub fn legacy(&self) -> Result<Option<LegacyPage>, ApiError> {
        if self.page_token.is_some() || self.page_size.is_some() {
            return Ok(None);
        }
        let Some(page) = self.page.as_deref() else {
            return Ok(None);
        };
        let page = page
            .trim()
            .parse::<i64>()
            .unwrap_or(0)
            .clamp(0, i64::from(u32::MAX));
        let per_page = self.per_page.unwrap_or(LEGACY_DEFAULT).clamp(1, LEGACY_MAX);
        if page as u64 * u64::from(per_page) > LEGACY_REACH {
            return Err(ApiError::bad_request(format!(
                "Legacy pagination is not supported for enumerating over {LEGACY_REACH} items. Please switch to using page_token and page_size."
            )));
        }
        Ok(Some(LegacyPage {
            page: page as u32,
            per_page,
        }))
    }

    pub fn after(&self, keys: &Keyring) -> Result<Option<Uuid>, ApiError> {
        match self.page_token.as_deref() {
            None | Some("") => Ok(None),
            Some(token) => open(keys, token)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request("The page_token is invalid.")),
        }
    }
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(
        Option::<serde_json::Value>::deserialize(d)?.map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }),
    )
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

    fn query(page: Option<&str>, per_page: Option<u32>, page_size: Option<u32>) -> PageQuery {
        PageQuery {
            page_size,
            per_page,
            page_token: None,
            page: page.map(str::to_owned),
        }
    }

    #[test]
    fn legacy_pages_follow_kratos_rules() {
        let legacy = |q: PageQuery| q.legacy().map_err(|e| e.to_string());
        assert_eq!(
            legacy(query(None, Some(10), None)),
            Ok(None),
            "per_page alone is keyset"
        );
        assert_eq!(
            legacy(query(Some("1"), None, Some(5))),
            Ok(None),
            "page_size wins"
        );
        let page = |page, per_page| Ok(Some(LegacyPage { page, per_page }));
        assert_eq!(legacy(query(Some("2"), Some(3), None)), page(2, 3));
        assert_eq!(legacy(query(Some("x"), None, None)), page(0, 250));
        assert_eq!(legacy(query(Some("-4"), Some(0), None)), page(0, 1));
        assert_eq!(legacy(query(Some("0"), Some(9000), None)), page(0, 500));
        assert_eq!(legacy(query(Some("4"), Some(250), None)), page(4, 250));
        assert!(
            legacy(query(Some("5"), Some(250), None)).is_err(),
            "past 1000 items"
        );
    }

    #[test]
    fn legacy_links_name_neighbouring_pages() {
        let p = LegacyPage {
            page: 1,
            per_page: 2,
        };
        assert_eq!(
            p.link_header("/i", "", 5),
            "</i?page=0&per_page=2>; rel=\"first\",</i?page=0&per_page=2>; rel=\"prev\",\
             </i?page=2&per_page=2>; rel=\"next\",</i?page=2&per_page=2>; rel=\"last\""
        );
        let only = LegacyPage {
            page: 0,
            per_page: 250,
        }
        .link_header("/i", "", 0);
        assert_eq!(
            only,
            "</i?page=0&per_page=250>; rel=\"first\",</i?page=0&per_page=250>; rel=\"last\""
        );
    }

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
