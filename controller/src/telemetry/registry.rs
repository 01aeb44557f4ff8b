//! A node's metric registry: counters and histograms recorded on hot paths through handles from a
//! private metrics-exporter-prometheus recorder, plus collectors that write gauge families from live
//! state when `/metrics` is scraped.

use std::sync::{Arc, Mutex};

use ::metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use super::exposition::Exposition;

/// Histogram buckets (seconds) of every `*_seconds` histogram: 100 µs to 30 s.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Writes scrape-time families into the exposition.
pub type Collector = Box<dyn Fn(&mut Exposition) + Send + Sync>;

/// The metrics of one node.
pub struct Registry {
    recorder: PrometheusRecorder,
    collectors: Mutex<Vec<Collector>>,
}

const METADATA: Metadata<'static> = Metadata::new("strom", ::metrics::Level::INFO, Some(module_path!()));

impl Registry {
    /// An empty registry; `*_seconds` histograms get [`SECONDS_BUCKETS`].
    pub fn new() -> Arc<Self> {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        Arc::new(Self { recorder: builder.build_recorder(), collectors: Mutex::new(Vec::new()) })
    }

    /// The counter `name` with `labels`, described by `help` (the same name and labels give the same
    /// counter).
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Counter {
        self.recorder.describe_counter(name.into(), None, help.into());
        self.recorder.register_counter(&key(name, labels), &METADATA)
    }

    /// The gauge `name` with `labels`, described by `help`.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder.describe_gauge(name.into(), None, help.into());
        self.recorder.register_gauge(&key(name, labels), &METADATA)
    }

    /// The histogram `name` with `labels`, described by `help`.
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Histogram {
        self.recorder.describe_histogram(name.into(), None, help.into());
        self.recorder.register_histogram(&key(name, labels), &METADATA)
    }

    /// Adds a collector run on every scrape.
    pub fn add_collector(&self, collector: Collector) {
        self.collectors.lock().unwrap_or_else(|e| e.into_inner()).push(collector);
    }

    /// The whole exposition: recorded counters and histograms, then every collector's families.
    pub fn render(&self) -> String {
        let mut expo = Exposition::new();
        for collector in self.collectors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            collector(&mut expo);
        }
        let mut text = self.recorder.handle().render();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&expo.into_text());
        text
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::new(*k, v.to_string())).collect();
    Key::from_parts(name, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Kind;

    #[test]
    fn renders_counters_histograms_and_collected_gauges() {
        let registry = Registry::new();
        registry.counter("strom_test_total", "Tests.", &[("topic", "t")]).increment(3);
        registry.histogram("strom_test_duration_seconds", "Durations.", &[("api", "Produce")]).record(0.003);
        registry
            .add_collector(Box::new(|expo| expo.single("strom_test_gauge", Kind::Gauge, "A gauge.", 7.0)));
        let text = registry.render();
        assert!(text.contains("# TYPE strom_test_total counter"), "{text}");
        assert!(text.contains("strom_test_total{topic=\"t\"} 3"), "{text}");
        assert!(text.contains("# TYPE strom_test_duration_seconds histogram"), "{text}");
        assert!(
            text.contains("strom_test_duration_seconds_bucket{api=\"Produce\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("strom_test_duration_seconds_bucket{api=\"Produce\",le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(text.contains("strom_test_gauge 7\n"), "{text}");
        // Another registry is independent.
        assert!(!Registry::new().render().contains("strom_test_total"));
    }
}
