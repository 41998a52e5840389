//! Kratos's request classification (kratos-api.md §1.1): a request is a JSON request when its
//! `Accept` prefers `application/json` over HTML, or its body is `application/json`.

use actix_web::HttpRequest;
use actix_web::http::header;

fn quality(accept: &str, wanted_type: &str, wanted_sub: &str) -> f32 {
    let mut best = (0u8, 0.0f32);
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        let (t, s) = media.split_once('/').unwrap_or((media.as_str(), ""));
        let specificity = if t == wanted_type && s == wanted_sub {
            3
        } else if t == wanted_type && s == "*" {
            2
        } else if t == "*" && s == "*" {
            1
        } else {
            continue;
        };
        if specificity > best.0 {
            best = (specificity, q);
        }
    }
    best.1
}

pub fn is_json_request(req: &HttpRequest) -> bool {
    let content_type_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if content_type_json {
        return true;
    }
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // HTML is offered first, so it wins ties, as in Kratos's negotiation.
    quality(accept, "application", "json") > quality(accept, "text", "html")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn json(accept: Option<&str>, ct: Option<&str>) -> bool {
        let mut r = TestRequest::get();
        if let Some(a) = accept {
            r = r.insert_header((header::ACCEPT, a));
        }
        if let Some(c) = ct {
            r = r.insert_header((header::CONTENT_TYPE, c));
        }
        is_json_request(&r.to_http_request())
    }

    #[test]
    fn classifies_like_kratos() {
        assert!(!json(None, None), "no Accept is a browser");
        assert!(!json(Some("*/*"), None), "curl's default is a browser");
        assert!(!json(Some("text/html,application/xhtml+xml,*/*;q=0.8"), None));
        assert!(json(Some("application/json"), None));
        assert!(json(Some("application/json, text/plain, */*"), None));
        assert!(!json(Some("text/html, application/json"), None), "HTML wins ties");
        assert!(json(None, Some("application/json")));
        assert!(json(None, Some("application/json; charset=utf-8")));
        assert!(!json(None, Some("application/x-www-form-urlencoded")));
    }
}
