//! A query string read as its pairs, so a key may repeat as Kratos allows
//! (`?expand=identity&expand=devices`); `web::Query` refuses a repeated field.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

#[derive(Debug, Default)]
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value given for `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` was given with `value` (among others).
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.all(key).any(|v| v == value)
    }
}

impl FromRequest for QueryPairs {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::parse(req.query_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_keep_every_value() {
        let q = QueryPairs::parse("expand=identity&expand=devices&x=%20y");
        assert_eq!(q.all("expand").collect::<Vec<_>>(), ["identity", "devices"]);
        assert!(q.has("expand", "devices") && q.has("x", " y") && !q.has("expand", "x"));
    }
}
