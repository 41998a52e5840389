//! The client's IP for rate limiting (ASVS 5.0 4.1.3 / 15.3.4): the socket peer, unless that
//! peer is a configured trusted proxy, in which case `X-Forwarded-For` is read from the right.
//!
//! Each proxy appends the address it received the request from, so only entries to the right
//! of the last untrusted hop are believable; everything left of it was written by the client.
//! CIDR parsing is ~40 lines here rather than a new dependency (ipnet) for one `contains`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use actix_web::HttpRequest;

/// An IP network such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32")]
pub struct CidrError(String);

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

// A shift by the full width is `None`: prefix 0 keeps no bits.
fn mask32(bits: u32, prefix: u8) -> u32 {
    bits & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    bits & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Host bits are cleared, so `10.1.2.3/8` means `10.0.0.0/8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (a, Some(p.parse::<u8>().map_err(|_| err())?))
            }
            Some(_) => return Err(err()),
            None => (s.trim(), None),
        };
        let ip = addr.parse::<IpAddr>().map_err(|_| err())?.to_canonical();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(err());
        }
        let net = match ip {
            IpAddr::V4(v4) => IpAddr::V4(mask32(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask128(u128::from(v6), prefix).into()),
        };
        Ok(Self { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Parses `serve.public.trusted_proxies`; call it at start-up so a typo stops the server
/// instead of silently trusting nothing (or the wrong hop).
pub fn parse_trusted(list: &[String]) -> Result<Vec<Cidr>, CidrError> {
    list.iter().map(|s| s.parse()).collect()
}

/// The client address of `req`, as described in the module comment. Without a peer address
/// (only in tests or over a Unix socket) every request shares the key 0.0.0.0.
pub fn client_ip(req: &HttpRequest, trusted: &[Cidr]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Several header lines are one comma-separated list, in order (RFC 9110 5.3).
    let mut hops = Vec::new();
    for value in req.headers().get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        hops.extend(value.split(','));
    }
    let mut current = peer;
    for hop in hops.iter().rev() {
        // A hop we cannot read ends the walk at the last address a trusted proxy vouched for;
        // guessing past it would let the client choose its key.
        let Some(ip) = parse_hop(hop) else {
            return current;
        };
        current = ip;
        if !is_trusted(current) {
            return current;
        }
    }
    current
}

/// An X-Forwarded-For entry: `1.2.3.4`, `2001:db8::1`, or with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn req(peer: &str, xff: &[&str]) -> HttpRequest {
        let addr = SocketAddr::new(ip(peer), 40000);
        let mut r = TestRequest::default().peer_addr(addr);
        for v in xff {
            r = r.append_header(("X-Forwarded-For", *v));
        }
        r.to_http_request()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        parse_trusted(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let r = req("198.51.100.9", &["203.0.113.1"]);
        assert_eq!(client_ip(&r, &[]), ip("198.51.100.9"));
        assert_eq!(
            client_ip(&r, &cidrs(&["10.0.0.0/8"])),
            ip("198.51.100.9"),
            "an untrusted peer's header is ignored"
        );
    }

    #[test]
    fn trusted_proxy_chain_yields_the_first_untrusted_hop_from_the_right() {
        let trusted = cidrs(&["10.0.0.0/8", "fd00::/8"]);
        let r = req("10.0.0.2", &["203.0.113.5, 10.1.1.1"]);
        assert_eq!(client_ip(&r, &trusted), ip("203.0.113.5"));
        // Two header lines are one list; ports and IPv6 hops are understood.
        let r = req("fd00::2", &["2001:db8::7", "[fd00::3]:443, 10.0.0.9:8080"]);
        assert_eq!(client_ip(&r, &trusted), ip("2001:db8::7"));
    }

    #[test]
    fn spoofed_entries_left_of_an_untrusted_hop_are_ignored() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        // The client sent "1.1.1.1, 10.0.0.50"; the proxy appended the real client.
        let r = req("10.0.0.2", &["1.1.1.1, 10.0.0.50, 198.51.100.23"]);
        assert_eq!(client_ip(&r, &trusted), ip("198.51.100.23"));
    }

    #[test]
    fn a_chain_of_only_trusted_hops_yields_the_leftmost() {
        let r = req("10.0.0.2", &["10.0.0.3, 10.0.0.4"]);
        assert_eq!(client_ip(&r, &cidrs(&["10.0.0.0/8"])), ip("10.0.0.3"));
        let r = req("10.0.0.2", &[]);
        assert_eq!(client_ip(&r, &cidrs(&["10.0.0.0/8"])), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_header_falls_back_to_the_last_vouched_address() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        for bad in ["not-an-ip", "", "1.2.3.4.5", "unknown, 999.1.1.1"] {
            assert_eq!(
                client_ip(&req("10.0.0.2", &[bad]), &trusted),
                ip("10.0.0.2")
            );
        }
        // Garbage left of a real client address is never reached.
        let r = req("10.0.0.2", &["garbage, 198.51.100.4"]);
        assert_eq!(client_ip(&r, &trusted), ip("198.51.100.4"));
    }

    #[test]
    fn mapped_ipv4_peer_matches_ipv4_cidrs() {
        let r = req("::ffff:10.0.0.2", &["198.51.100.4"]);
        assert_eq!(client_ip(&r, &cidrs(&["10.0.0.0/8"])), ip("198.51.100.4"));
    }

    #[test]
    fn ipv6_client_behind_a_proxy_keys_by_its_slash_64() {
        let r = req("10.0.0.2", &["2001:db8:1:2:aaaa::1"]);
        let client = client_ip(&r, &cidrs(&["10.0.0.0/8"]));
        assert_eq!(crate::ratelimit::ip_subject(client), "2001:db8:1:2::/64");
    }

    #[test]
    fn cidrs_parse_mask_and_match() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.255.0.1")) && !c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::a01:203")), "families never mix");
        let host: Cidr = "192.0.2.1".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.1/32");
        assert!(host.contains(ip("192.0.2.1")) && !host.contains(ip("192.0.2.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert_eq!("::/0".parse::<Cidr>().unwrap().to_string(), "::/0");
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x/8",
            "10/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
        let err = parse_trusted(&["10.0.0.0/8".into(), "nope".into()]).unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
