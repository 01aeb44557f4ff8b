//! The broker's Prometheus metrics (names and meanings in `docs/metrics.md`).
//!
//! Counters and histograms are recorded where things happen (requests, produce, fetch, connections,
//! ISR changes) through handles held here; gauges describing state (partitions, offsets, consumer lag,
//! groups, heartbeat age) are computed from the live state at scrape time by [`collect`].

mod collect;
mod endpoint;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use ::metrics::{Counter, Histogram};
use kafka_protocol::messages::ApiKey;
use strom_controller::telemetry::Registry;

pub use collect::register_collector;
pub use endpoint::{Endpoint, readiness};

/// Byte and record counters of one topic.
#[derive(Clone)]
pub struct TopicCounters {
    /// Bytes produced by clients (`strom_bytes_in_total`).
    pub bytes_in: Counter,
    /// Bytes fetched by consumers (`strom_bytes_out_total`).
    pub bytes_out: Counter,
    /// Records produced by clients (`strom_records_in_total`).
    pub records_in: Counter,
}

/// Handles of the broker's recorded metrics.
pub struct BrokerMetrics {
    /// The node's registry (rendered by `/metrics`).
    pub registry: Arc<Registry>,
    /// `strom_isr_shrinks_total`.
    pub isr_shrinks: Counter,
    /// `strom_isr_expands_total`.
    pub isr_expands: Counter,
    /// `strom_connections_accepted_total`.
    pub connections_accepted: Counter,
    /// `strom_replication_bytes_out_total`: bytes served to follower fetches.
    pub replication_bytes_out: Counter,
    /// Open client connections (`strom_connections`).
    open_connections: AtomicI64,
    /// `strom_request_duration_seconds` by API key.
    request_durations: HashMap<i16, Histogram>,
    topics: RwLock<HashMap<String, TopicCounters>>,
}

impl BrokerMetrics {
    /// The broker's metrics in `registry`: one request-duration histogram per API it serves.
    pub fn new(registry: Arc<Registry>) -> Self {
        let request_durations = crate::handlers::SUPPORTED_APIS
            .iter()
            .map(|(api, _, _)| {
                let name = format!("{api:?}");
                let histogram = registry.histogram(
                    "strom_request_duration_seconds",
                    "Time from reading a request to having its response ready, by Kafka API.",
                    &[("api", &name)],
                );
                (*api as i16, histogram)
            })
            .collect();
        Self {
            isr_shrinks: registry.counter(
                "strom_isr_shrinks_total",
                "ISR shrinks of partitions this broker leads (replicas removed from the ISR).",
                &[],
            ),
            isr_expands: registry.counter(
                "strom_isr_expands_total",
                "ISR expansions of partitions this broker leads (replicas added to the ISR).",
                &[],
            ),
            connections_accepted: registry.counter(
                "strom_connections_accepted_total",
                "Kafka client connections accepted.",
                &[],
            ),
            replication_bytes_out: registry.counter(
                "strom_replication_bytes_out_total",
                "Record bytes served to follower brokers' fetches.",
                &[],
            ),
            open_connections: AtomicI64::new(0),
            request_durations,
            topics: RwLock::new(HashMap::new()),
            registry,
        }
    }

    /// A broker's metrics in a registry of their own (tests, embedded use).
    pub fn standalone() -> Self {
        Self::new(Registry::new())
    }

    /// Records how long a request of `api_key` took.
    pub fn observe_request(&self, api_key: i16, seconds: f64) {
        if let Some(histogram) = self.request_durations.get(&api_key) {
            histogram.record(seconds);
        }
    }

    /// The counters of `topic`.
    pub fn topic(&self, topic: &str) -> TopicCounters {
        if let Some(counters) = self.topics.read().unwrap_or_else(|e| e.into_inner()).get(topic) {
            return counters.clone();
        }
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        topics
            .entry(topic.to_string())
            .or_insert_with(|| TopicCounters {
                bytes_in: self.registry.counter(
                    "strom_bytes_in_total",
                    "Record bytes produced by clients, by topic.",
                    &[("topic", topic)],
                ),
                bytes_out: self.registry.counter(
                    "strom_bytes_out_total",
                    "Record bytes fetched by consumers, by topic.",
                    &[("topic", topic)],
                ),
                records_in: self.registry.counter(
                    "strom_records_in_total",
                    "Records produced by clients, by topic.",
                    &[("topic", topic)],
                ),
            })
            .clone()
    }

    /// A connection opened; the guard counts it closed when dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_accepted.increment(1);
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    /// Open client connections.
    pub fn open_connections(&self) -> i64 {
        self.open_connections.load(Ordering::Relaxed)
    }
}

/// Keeps one connection counted in `strom_connections`.
pub struct ConnectionGuard(Arc<BrokerMetrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The API key of a request frame (its first two bytes), if it names a known API.
pub fn frame_api_key(frame: &[u8]) -> Option<i16> {
    let key = i16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
    ApiKey::try_from(key).ok().map(|_| key)
}
