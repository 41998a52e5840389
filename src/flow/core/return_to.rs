//! `return_to` checking (open-redirect rules): only http(s) URLs whose scheme, host and port equal an
//! allowed entry's, with the allowed path as a prefix ending at a `/` boundary.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Requested return_to URL \"{0}\" is not allowed.")]
pub struct ReturnToForbidden(pub String);

pub fn check(raw: &str, allowed: &[Url]) -> Result<Url, ReturnToForbidden> {
    // Quoted in the error the user sees (and that is stored): control characters are shown
    // as U+FFFD, since no database keeps a NUL in text.
    let shown = || {
        raw.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
    };
    let forbidden = || ReturnToForbidden(shown().collect());
    if raw.chars().any(|c| c.is_control() || c == '\\') {
        return Err(forbidden());
    }
    let url = Url::parse(raw).map_err(|_| forbidden())?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(forbidden());
    }
    let path = url.path();
    let lowered = path.to_ascii_lowercase();
    if lowered.contains("%2f") || lowered.contains("%2e") || lowered.contains("%5c") {
        return Err(forbidden());
    }
    let ok = allowed.iter().any(|a| {
        a.scheme() == url.scheme()
            && a.host_str().map(str::to_ascii_lowercase)
                == url.host_str().map(str::to_ascii_lowercase)
            && a.port_or_known_default() == url.port_or_known_default()
            && path_within(a.path(), path)
    });
    if ok { Ok(url) } else { Err(forbidden()) }
}

fn path_within(allowed: &str, path: &str) -> bool {
    let base = allowed.trim_end_matches('/');
    base.is_empty() || path == base || path.starts_with(&format!("{base}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<Url> {
        vec![
            Url::parse("https://app.example.com/dashboard").unwrap(),
            Url::parse("http://127.0.0.1:4455/").unwrap(),
        ]
    }

    #[test]
    fn accepts_allowed_hosts_and_paths() {
        for ok in [
            "https://app.example.com/dashboard",
            "https://app.example.com/dashboard/settings?x=1",
            "http://127.0.0.1:4455/anything",
            "https://APP.example.com/dashboard",
        ] {
            assert!(check(ok, &allowed()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_open_redirect_tricks() {
        for bad in [
            "https://evil.com",
            "//evil.com",
            "/\\evil.com",
            "https:evil.com",
            "https://app.example.com@evil.com/dashboard",
            "https://evil.com?x=app.example.com",
            "https://app.example.com.evil.com/dashboard",
            "https://evilapp.example.com/dashboard",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example.com/dashboard-evil",
            "https://app.example.com/dashboard/../admin",
            "https://app.example.com/dashboard%2f..%2fadmin",
            "https://app.example.com/dash\tboard",
            "http://app.example.com/dashboard",
            "http://127.0.0.1:4456/",
        ] {
            assert!(check(bad, &allowed()).is_err(), "{bad} should be refused");
        }
    }
}
