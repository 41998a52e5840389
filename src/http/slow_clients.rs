//! Slow and greedy clients (`protection.clients`; SECURITY.md A2).
//!
//! actix's `client_request_timeout` only bounds the request head: a body sent one byte at a
//! time, or a `Content-Length` larger than what follows, would hold a worker's connection for
//! as long as the client likes. So the body is read here, whole, within `body_timeout`; past
//! it the answer is 408 and the connection is closed. Bodies are small (at most
//! `request_body_limit`, 64 KiB by default) and the extractors would buffer them anyway.
//!
//! Open connections are counted per client address (IPv4 host, IPv6 /64) from accept to close;
//! requests on a connection beyond `max_connections_per_ip` get 429 and the connection is
//! closed. Connections from trusted proxies are not counted: behind one, every client shares
//! its address, and the proxy limits its own clients.

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::{Extensions, Payload};
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::web::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::http::client_ip::Cidr;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not all of it arrived within the deadline.
    Timeout,
    /// The connection broke or the framing was invalid.
    Broken,
}

/// Whether the request announces a body (HTTP/1.1: a non-zero length or chunked framing).
pub fn has_body(headers: &actix_web::http::header::HeaderMap) -> bool {
    let length = headers
        .get(CONTENT_LENGTH)
        .map(|v| v.as_bytes().trim_ascii());
    headers.contains_key(TRANSFER_ENCODING) || length.is_some_and(|v| v != b"0")
}

/// The announced length, when it is over `limit`: the extractor answers 413 from the header
/// alone, so such a body is not read.
pub fn announced_over(headers: &actix_web::http::header::HeaderMap, limit: usize) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// Reads at most `limit + 1` bytes of `payload` (one more than allowed, so the extractor
/// still sees an oversized body and answers 413) within `deadline`.
pub async fn read_body(
    payload: &mut Payload,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                break;
            }
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

/// Open connections per client address, shared by every worker of one server.
#[derive(Debug, Clone)]
pub struct ConnectionCounter {
    max: u32,
    trusted: Arc<Vec<Cidr>>,
    open: Arc<Mutex<HashMap<String, u32>>>,
}

/// Held in a connection's extensions from accept to close; dropping it closes the count.
#[derive(Debug)]
pub struct ConnectionSlot {
    counter: ConnectionCounter,
    key: String,
    /// This connection is over the cap: its requests are refused.
    pub over: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counter.open.lock()
            && let Some(n) = open.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl ConnectionCounter {
    pub fn new(max: u32, trusted: Vec<Cidr>) -> Self {
        Self {
            max,
            trusted: Arc::new(trusted),
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts a new connection from `peer`; `None` when there is no cap for it.
    pub fn open(&self, peer: IpAddr) -> Option<ConnectionSlot> {
        if self.max == 0 || self.trusted.iter().any(|c| c.contains(peer)) {
            return None;
        }
        let key = crate::ratelimit::ip_subject(peer);
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key.clone()).or_default();
        *n += 1;
        let over = *n > self.max;
        Some(ConnectionSlot {
            counter: self.clone(),
            key,
            over,
        })
    }

    /// For `HttpServer::on_connect`: counts plain TCP connections.
    pub fn on_connect(&self, conn: &dyn Any, ext: &mut Extensions) {
        let peer = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|s| s.peer_addr().ok());
        if let Some(slot) = peer.and_then(|p| self.open(p.ip())) {
            ext.insert(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_open_connections_per_address_and_frees_on_close() {
        let c = ConnectionCounter::new(2, vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a1 = c.open(ip("203.0.113.1")).unwrap();
        let a2 = c.open(ip("203.0.113.1")).unwrap();
        let a3 = c.open(ip("203.0.113.1")).unwrap();
        assert_eq!((a1.over, a2.over, a3.over), (false, false, true));
        assert!(!c.open(ip("203.0.113.2")).unwrap().over, "another address");
        let v6 = c.open(ip("2001:db8:1:2::1")).unwrap();
        let v6b = c.open(ip("2001:db8:1:2::2")).unwrap();
        assert!(c.open(ip("2001:db8:1:2::3")).unwrap().over, "one /64");
        drop((v6, v6b));
        drop(a3);
        drop(a2);
        assert!(
            !c.open(ip("203.0.113.1")).unwrap().over,
            "closed ones are freed"
        );
        assert!(
            c.open(ip("10.1.2.3")).is_none(),
            "trusted proxies are not capped"
        );
        assert!(
            ConnectionCounter::new(0, vec![])
                .open(ip("203.0.113.1"))
                .is_none()
        );
    }

    #[test]
    fn bodies_are_announced_by_length_or_chunking() {
        use actix_web::http::header::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert!(!has_body(&h));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        assert!(!has_body(&h));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert!(has_body(&h));
        assert!(announced_over(&h, 10) && !announced_over(&h, 12));
        let mut chunked = HeaderMap::new();
        chunked.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        assert!(has_body(&chunked));
    }
}
