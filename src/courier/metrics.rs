//! The courier's metrics, through the `metrics` facade (no-ops until the server installs a
//! recorder). Labels carry only the channel and the outcome: never an address, id or secret.
//!
//! - `verity_courier_messages_total{channel, status}`: attempts by outcome (`sent`, `retried`,
//!   `failed` = given up, `expired`), plus messages expired before any attempt;
//! - `verity_courier_send_seconds{channel}`: how long each delivery attempt took;
//! - `verity_courier_retries_total{channel}`: attempts that will be retried;
//! - `verity_courier_permanent_failures_total{channel}`: attempts the provider refused for good.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

use crate::persistence::{AttemptResult, Channel};

pub const MESSAGES: &str = "verity_courier_messages_total";
pub const SEND_SECONDS: &str = "verity_courier_send_seconds";
pub const RETRIES: &str = "verity_courier_retries_total";
pub const PERMANENT_FAILURES: &str = "verity_courier_permanent_failures_total";

/// Registers the help texts (call once after installing a recorder).
pub fn describe() {
    describe_counter!(MESSAGES, "Courier messages by channel and outcome");
    describe_histogram!(
        SEND_SECONDS,
        Unit::Seconds,
        "Duration of one courier delivery attempt"
    );
    describe_counter!(RETRIES, "Courier delivery attempts that will be retried");
    describe_counter!(
        PERMANENT_FAILURES,
        "Courier delivery attempts refused permanently by the provider"
    );
}

pub(super) fn attempt(channel: Channel, result: &AttemptResult, permanent: bool) {
    let ch = channel.as_str();
    let status = match result {
        AttemptResult::Sent => "sent",
        AttemptResult::Retry { .. } => "retried",
        AttemptResult::Abandon { .. } => "failed",
        AttemptResult::Expire { .. } => "expired",
    };
    counter!(MESSAGES, "channel" => ch, "status" => status).increment(1);
    if status == "retried" {
        counter!(RETRIES, "channel" => ch).increment(1);
    }
    if permanent {
        counter!(PERMANENT_FAILURES, "channel" => ch).increment(1);
    }
}

pub(super) fn expired(channel: Channel) {
    counter!(MESSAGES, "channel" => channel.as_str(), "status" => "expired").increment(1);
}

pub(super) fn send_seconds(channel: Channel, took: Duration) {
    histogram!(SEND_SECONDS, "channel" => channel.as_str()).record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
        SharedString,
    };

    use super::*;

    /// Keeps every counter and histogram by its full key (name and labels).
    #[derive(Default)]
    struct Capture {
        counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
        samples: Mutex<BTreeMap<String, Arc<Mutex<Vec<f64>>>>>,
    }

    struct Count(Arc<AtomicU64>);
    impl CounterFn for Count {
        fn increment(&self, n: u64) {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
        fn absolute(&self, n: u64) {
            self.0.store(n, Ordering::Relaxed);
        }
    }
    struct Samples(Arc<Mutex<Vec<f64>>>);
    impl HistogramFn for Samples {
        fn record(&self, v: f64) {
            self.0.lock().unwrap().push(v);
        }
    }

    fn name(key: &Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl Recorder for Capture {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut m = self.counters.lock().unwrap();
            Counter::from_arc(Arc::new(Count(m.entry(name(key)).or_default().clone())))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            let mut m = self.samples.lock().unwrap();
            Histogram::from_arc(Arc::new(Samples(m.entry(name(key)).or_default().clone())))
        }
    }

    #[test]
    fn outcomes_are_counted_by_channel_and_status_only() {
        let rec = Capture::default();
        metrics::with_local_recorder(&rec, || {
            attempt(Channel::Email, &AttemptResult::Sent, false);
            attempt(
                Channel::Sms,
                &AttemptResult::Retry {
                    error: "503 from +15550100".into(),
                    next_attempt_at: chrono::Utc::now(),
                },
                false,
            );
            attempt(
                Channel::Email,
                &AttemptResult::Abandon {
                    error: "550 no such user a@example.com".into(),
                },
                true,
            );
            expired(Channel::Voice);
            send_seconds(Channel::Email, Duration::from_millis(3));
        });
        let counters: BTreeMap<String, u64> = rec
            .counters
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        let expected: BTreeMap<String, u64> = [
            (
                "verity_courier_messages_total{channel=email,status=failed}",
                1,
            ),
            (
                "verity_courier_messages_total{channel=email,status=sent}",
                1,
            ),
            (
                "verity_courier_messages_total{channel=sms,status=retried}",
                1,
            ),
            (
                "verity_courier_messages_total{channel=voice,status=expired}",
                1,
            ),
            ("verity_courier_permanent_failures_total{channel=email}", 1),
            ("verity_courier_retries_total{channel=sms}", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(counters, expected, "no address or error text in any label");
        let samples = rec.samples.lock().unwrap();
        let email = samples["verity_courier_send_seconds{channel=email}"]
            .lock()
            .unwrap()
            .clone();
        assert_eq!(email, vec![0.003]);
    }
}
