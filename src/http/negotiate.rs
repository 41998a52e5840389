//! Kratos's request classification: a request is a JSON request when its
//! `Accept` prefers `application/json` over HTML, or its body is `application/json`.

use actix_web::HttpRequest;
use actix_web::http::header;

/// The offers Kratos negotiates against (`x/isjsonrequest.go`), HTML first and by default.
const OFFERS: [&str; 4] = ["text/html", "text/*", "*/*", "application/json"];

/// `golang/gddo`'s `httputil.NegotiateContentType`: the best offer by quality, an exact match
/// beating `type/*` beating `*/*` at equal quality, and the earlier offer winning a full tie.
fn negotiate(accept: &str) -> &'static str {
    let specs: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty()).then_some((media, q))
        })
        .collect();
    let (mut best, mut best_q, mut best_wild) = ("text/html", -1.0f32, 3u8);
    for offer in OFFERS {
        for (value, q) in &specs {
            let q = *q;
            if q == 0.0 || q < best_q {
                continue;
            }
            let wild = if value == "*/*" {
                2
            } else if let Some(prefix) = value.strip_suffix('*').filter(|p| p.ends_with('/')) {
                if !offer.starts_with(prefix) {
                    continue;
                }
                1
            } else if value == offer {
                0
            } else {
                continue;
            };
            if q > best_q || best_wild > wild {
                (best, best_q, best_wild) = (offer, q, wild);
            }
        }
    }
    best
}

pub fn is_json_request(req: &HttpRequest) -> bool {
    let content_type_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if content_type_json {
        return true;
    }
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    negotiate(accept) == "application/json"
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
        assert!(!json(
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            None
        ));
        assert!(json(Some("application/json"), None));
        assert!(json(Some("application/json, text/plain, */*"), None));
        assert!(
            !json(Some("text/html, application/json"), None),
            "HTML wins ties"
        );
        assert!(json(None, Some("application/json")));
        assert!(json(None, Some("application/json; charset=utf-8")));
        assert!(!json(None, Some("application/x-www-form-urlencoded")));
        assert!(
            json(Some("application/json, text/plain, */*"), None),
            "axios's default"
        );
        assert!(json(Some("text/html;q=0.8, application/json"), None));
        assert!(!json(Some("application/json;q=0.5, text/html"), None));
        assert!(
            json(Some("text/*, application/json"), None),
            "exact beats type/*"
        );
        assert!(
            !json(Some("text/plain"), None),
            "no match: the HTML default"
        );
        assert!(!json(Some("application/json;q=0"), None));
    }
}
