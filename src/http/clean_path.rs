//! Repeated slashes in a path (`//self-service/login/flows`, which a UI whose base URL ends in
//! `/` builds) lead to the clean path: GET and HEAD are redirected there with 301, as Kratos's
//! router (Go's `ServeMux`) does; other methods are routed there directly, so no client has
//! to resend a body.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::LOCATION;
use actix_web::http::{Method, Uri};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// The path with every run of slashes made one slash; `None` when it is clean already.
pub fn cleaned(path: &str) -> Option<String> {
    if !path.contains("//") {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    Some(out)
}

pub async fn clean_path<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(clean) = cleaned(req.path()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let target = match req.query_string() {
        "" => clean,
        q => format!("{clean}?{q}"),
    };
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let res = HttpResponse::MovedPermanently()
            .insert_header((LOCATION, target))
            .finish();
        return Ok(req.into_response(res).map_into_right_body());
    }
    match target.parse::<Uri>() {
        Ok(uri) => {
            req.head_mut().uri = uri.clone();
            req.match_info_mut().get_mut().update(&uri);
        }
        Err(_) => return Ok(next.call(req).await?.map_into_left_body()),
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::cleaned;

    #[test]
    fn runs_of_slashes_become_one() {
        assert_eq!(cleaned("//foo").as_deref(), Some("/foo"));
        assert_eq!(cleaned("//foo//bar").as_deref(), Some("/foo/bar"));
        assert_eq!(cleaned("/a///b/").as_deref(), Some("/a/b/"));
        assert_eq!(cleaned("/clean/path"), None);
    }
}
