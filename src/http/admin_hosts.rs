//! The `Host` names the admin port answers to (`protection.admin_hosts`), against DNS
//! rebinding: a web page on `evil.example` can make its own name resolve to 127.0.0.1 and
//! then read the admin API and the dev inbox as same-origin. The browser still sends
//! `Host: evil.example`, so a port that answers only its own names is out of reach.
//!
//! Allowed by default: the hosts of `serve.admin.base_url` and `serve.public.base_url`,
//! `localhost`, 127.0.0.0/8 and ::1 (any port: rebinding changes the name, not the port).
//! A request with another `Host`, or none, gets 421 Misdirected Request (RFC 9110 15.5.20:
//! this server will not answer for that authority) before any work. 421 rather than 403
//! because nothing about the client is refused, only the name it used; a browser that retries
//! it on a new connection gets the same answer. `/health/*` is exempt: orchestrators probe it
//! by pod IP and it reveals nothing.

use std::net::IpAddr;

use url::Url;

use crate::config::AdminHostsConfig;

#[derive(Debug, Clone)]
pub struct AdminHosts {
    enabled: bool,
    names: Vec<String>,
}

impl AdminHosts {
    pub fn new(cfg: &AdminHostsConfig, base_urls: &[&Url]) -> Self {
        let mut names: Vec<String> = base_urls
            .iter()
            .filter_map(|u| u.host_str())
            .chain(cfg.allowed.iter().map(String::as_str))
            .map(canonical)
            .collect();
        names.push("localhost".into());
        names.sort();
        names.dedup();
        Self {
            enabled: cfg.enabled,
            names,
        }
    }

    /// Whether a request to `path` with this `Host` header value may be served.
    pub fn allows(&self, path: &str, host: Option<&str>) -> bool {
        if !self.enabled || path.starts_with("/health/") {
            return true;
        }
        let Some(name) = host.and_then(host_name) else {
            return false;
        };
        let name = canonical(name);
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>()
            && ip.to_canonical().is_loopback()
        {
            return true;
        }
        self.names.binary_search(&name).is_ok()
    }
}

/// The name part of a `Host` value: `[::1]:4434` → `[::1]`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    let name = if host.starts_with('[') {
        &host[..=host.find(']')?]
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    (!name.is_empty()).then_some(name)
}

/// Lower case, without a trailing dot (`Example.COM.` and `example.com` are one name).
fn canonical(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(extra: &[&str]) -> AdminHosts {
        let admin = Url::parse("https://admin.example.com:4434/").unwrap();
        let public = Url::parse("https://auth.example.com/").unwrap();
        let cfg = AdminHostsConfig {
            enabled: true,
            allowed: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        AdminHosts::new(&cfg, &[&admin, &public])
    }

    #[test]
    fn base_url_hosts_and_loopback_pass_on_any_port() {
        let h = hosts(&[]);
        for host in [
            "admin.example.com:4434",
            "Admin.Example.COM.",
            "auth.example.com",
            "localhost:4434",
            "127.0.0.1:4434",
            "127.1.2.3",
            "[::1]:4434",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(h.allows("/admin/identities", Some(host)), "{host}");
        }
    }

    #[test]
    fn other_names_and_missing_hosts_are_refused_except_for_health() {
        let h = hosts(&[]);
        for host in [
            "evil.example:4434",
            "admin.example.com.evil.test",
            "10.0.0.5:4434",
            "[2001:db8::1]:4434",
            "",
        ] {
            assert!(!h.allows("/admin/identities", Some(host)), "{host}");
        }
        assert!(!h.allows("/admin/dev/inbox", None));
        assert!(h.allows("/health/ready", Some("10.0.0.5:4434")));
        let extra = hosts(&["10.0.0.5", "Verity.internal"]);
        assert!(extra.allows("/admin/identities", Some("10.0.0.5:4434")));
        assert!(extra.allows("/admin/identities", Some("verity.internal")));
        let off = AdminHosts::new(
            &AdminHostsConfig {
                enabled: false,
                allowed: vec![],
            },
            &[],
        );
        assert!(off.allows("/admin/identities", Some("evil.example")));
    }
}
