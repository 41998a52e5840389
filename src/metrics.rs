//! Prometheus metrics: one process-wide recorder (the `metrics` facade), rendered in the text
//! format by `GET /metrics` on the admin port.
//!
//! Components record through the facade wherever the event happens (`metrics::counter!`).
//! The recorder is installed once per process, on first use, so a process that runs several
//! servers (the test suite does) shares one registry: each server's `/metrics` shows the whole
//! process. Gauges that describe shared state (the courier's queue, the database pool) are set
//! at scrape time by the scraping server. No label carries an address, an id or a secret:
//! labels are route templates, status codes, channel ids from the configuration, rule names and
//! fixed words.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds; from 1 ms (a cached read) to 30 s (a send that times out).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on the first call. When another recorder was installed
/// first (an embedding program's), Verity's metrics go there and this handle renders nothing.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        describe();
        handle
    })
}

/// Installs the recorder before the first request is served, so early events are counted.
pub fn install() {
    let _ = handle();
}

/// The text a scrape returns; `upkeep` first drains what histograms buffered.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// One request: its count and latency by API (public or admin), method, route template and
/// status.
pub fn http_request(api: &'static str, method: &str, route: String, status: u16, seconds: f64) {
    let labels = [
        ("api", api.to_owned()),
        ("method", method.to_owned()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("verity_http_requests_total", &labels).increment(1);
    metrics::histogram!("verity_http_request_duration_seconds", &labels).record(seconds);
}

/// What went wrong with a database call, by kind: `timeout` (no pooled connection within the
/// acquire timeout), `unavailable`, `conflict` (a unique constraint) or `unexpected`.
pub fn database_error(kind: &'static str) {
    if kind == "timeout" {
        metrics::counter!("verity_db_pool_acquire_timeouts_total").increment(1);
    }
    metrics::counter!("verity_db_query_errors_total", "kind" => kind).increment(1);
}

/// The password hasher refused a hash because every slot was busy (the caller answers 503).
pub fn hash_refused() {
    metrics::counter!("verity_hash_refusals_total").increment(1);
}

/// Counts a hash in flight until the guard is dropped.
#[must_use]
pub fn hash_in_flight() -> InFlight {
    gauge!("verity_hash_in_flight").increment(1.0);
    InFlight("verity_hash_in_flight")
}

pub struct InFlight(&'static str);

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1.0);
    }
}

/// The database pool as the scraping server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_usage(usage: PoolUsage) {
    gauge!("verity_db_pool_connections", "state" => "open").set(f64::from(usage.size));
    gauge!("verity_db_pool_connections", "state" => "idle").set(f64::from(usage.idle));
    gauge!("verity_db_pool_max_connections").set(f64::from(usage.max));
}

/// Queued (or being sent) messages of one channel and the age of the oldest, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    pub channel: String,
    pub depth: u64,
    pub oldest_age_seconds: f64,
}

/// Sets the queue gauges; a channel seen before and now empty is set to zero, not left stale.
pub fn courier_backlog(backlog: &[Backlog]) {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    for gone in seen
        .iter()
        .filter(|c| !backlog.iter().any(|b| &b.channel == *c))
    {
        gauge!("verity_courier_queue_depth", "channel" => gone.clone()).set(0.0);
        gauge!("verity_courier_oldest_queued_age_seconds", "channel" => gone.clone()).set(0.0);
    }
    seen.clear();
    for b in backlog {
        seen.insert(b.channel.clone());
        gauge!("verity_courier_queue_depth", "channel" => b.channel.clone()).set(b.depth as f64);
        gauge!("verity_courier_oldest_queued_age_seconds", "channel" => b.channel.clone())
            .set(b.oldest_age_seconds);
    }
}

/// Help texts, including those of metrics other components record.
fn describe() {
    crate::courier::metrics::describe();
    describe_counter!(
        "verity_http_requests_total",
        "HTTP requests by api, method, route template and status"
    );
    describe_histogram!(
        "verity_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by api, method, route template and status"
    );
    describe_counter!(
        "verity_db_query_errors_total",
        "Database calls that failed, by kind"
    );
    describe_counter!(
        "verity_db_pool_acquire_timeouts_total",
        "Database calls that found no pooled connection in time"
    );
    describe_gauge!(
        "verity_db_pool_connections",
        "Open and idle connections of this node's pool"
    );
    describe_gauge!(
        "verity_db_pool_max_connections",
        "The pool's connection limit"
    );
    describe_gauge!(
        "verity_db_up",
        "1 when the last scrape's database query answered, else 0 (the queue gauges are then stale)"
    );
    describe_gauge!("verity_hash_in_flight", "Password hashes running now");
    describe_counter!(
        "verity_hash_refusals_total",
        "Password hashes refused because every slot was busy (answered 503)"
    );
    describe_gauge!(
        "verity_courier_queue_depth",
        "Messages queued or being sent, by channel"
    );
    describe_gauge!(
        "verity_courier_oldest_queued_age_seconds",
        Unit::Seconds,
        "Age of the oldest message queued or being sent, by channel"
    );
    describe_counter!(
        "verity_ratelimit_trips_total",
        "Requests refused by a rate limit, by rule"
    );
    describe_counter!(
        "verity_flows_total",
        "Self-service flows by kind and event (created, completed, expired, replaced)"
    );
    describe_counter!(
        "verity_codes_total",
        "Codes and links by channel and event (sent, verified, refused)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_channel_reads_zero_and_labels_stay_templates() {
        install();
        courier_backlog(&[Backlog {
            channel: "unit-test-channel".into(),
            depth: 3,
            oldest_age_seconds: 12.5,
        }]);
        http_request("admin", "GET", "/identities/{id}".into(), 404, 0.002);
        let text = render();
        assert!(
            text.contains(r#"verity_courier_queue_depth{channel="unit-test-channel"} 3"#),
            "{text}"
        );
        assert!(text.contains(r#"route="/identities/{id}""#), "{text}");
        assert!(
            text.contains("verity_http_request_duration_seconds_bucket"),
            "histograms have buckets: {text}"
        );
        courier_backlog(&[]);
        let text = render();
        assert!(
            text.contains(r#"verity_courier_queue_depth{channel="unit-test-channel"} 0"#),
            "{text}"
        );
    }
}
