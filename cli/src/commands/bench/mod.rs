//! `strom bench`: load tools that drive a cluster through librdkafka and print throughput and latency,
//! in the spirit of `kafka-producer-perf-test.sh` and `kafka-consumer-perf-test.sh`.
//!
//! ```text
//!  bench produce: payload ─send()─► librdkafka queue ─batches─► broker ─ack─► delivery callback
//!                 latency = enqueue → delivery report (includes batching, linger and queueing)
//!  bench consume: assign all partitions at the beginning ─poll()─► count records and bytes
//! ```
//!
//! MB means 2^20 bytes of record payload (keys plus values), as in Kafka's perf tools.

mod consume;
mod produce;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::output::{OutputArgs, Table, print_json, print_text};

/// Arguments of `strom bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum BenchCommand {
    /// Produce N records as fast as possible (or at --throughput) and measure delivery latency.
    Produce(produce::ProduceBenchArgs),
    /// Consume N records from the beginning of every partition and measure throughput.
    Consume(consume::ConsumeBenchArgs),
}

/// Runs `strom bench`.
pub async fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Produce(args) => produce::run(args).await,
        BenchCommand::Consume(args) => consume::run(args).await,
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Mean.
    pub avg_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises latencies given in microseconds; `None` when there are none.
    pub fn from_micros(mut micros: Vec<u32>) -> Option<Self> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        let ms = |us: u32| f64::from(us) / 1000.0;
        // Nearest-rank percentile: the smallest value with at least p% of samples at or below it.
        let rank = |per_mille: usize| {
            let index = (per_mille * micros.len()).div_ceil(1000);
            ms(micros[index.clamp(1, micros.len()) - 1])
        };
        let sum: u64 = micros.iter().map(|&us| u64::from(us)).sum();
        Some(Self {
            avg_ms: sum as f64 / micros.len() as f64 / 1000.0,
            p50_ms: rank(500),
            p95_ms: rank(950),
            p99_ms: rank(990),
            p999_ms: rank(999),
            max_ms: ms(micros[micros.len() - 1]),
        })
    }
}

/// The result of one bench run, as printed and as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSummary {
    /// `produce` or `consume`.
    pub mode: &'static str,
    /// Topic driven.
    pub topic: String,
    /// Records acknowledged (produce) or received (consume).
    pub records: u64,
    /// Records that failed (produce only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Payload bytes (keys plus values).
    pub bytes: u64,
    /// Payload MB (2^20 bytes).
    pub mb: f64,
    /// Wall-clock seconds from the first send (or assign) to the last ack (or record).
    pub seconds: f64,
    /// Records per second.
    pub msgs_per_sec: f64,
    /// MB per second.
    pub mb_per_sec: f64,
    /// Produce: enqueue → delivery latency. Consume: none.
    pub latency: Option<LatencySummary>,
    /// Run parameters (record size, acks, batch size, …) for the record.
    pub params: serde_json::Value,
}

impl BenchSummary {
    /// Computes rates from totals.
    pub fn new(mode: &'static str, topic: &str, records: u64, bytes: u64, seconds: f64) -> Self {
        let mb = bytes as f64 / (1024.0 * 1024.0);
        let per_sec = |x: f64| if seconds > 0.0 { x / seconds } else { 0.0 };
        Self {
            mode,
            topic: topic.to_string(),
            records,
            failed: None,
            bytes,
            mb,
            seconds,
            msgs_per_sec: per_sec(records as f64),
            mb_per_sec: per_sec(mb),
            latency: None,
            params: serde_json::Value::Null,
        }
    }

    /// Prints the summary as a one-row table (after a parameter line) or as JSON.
    pub fn print(&self, output: &OutputArgs) -> Result<()> {
        if output.is_json() {
            return print_json(self);
        }
        let params = match &self.params {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        print_text(&format!("bench {} topic={} {}\n", self.mode, self.topic, params.join(" ")))?;
        let mut headers = vec!["RECORDS"];
        let mut row = vec![self.records.to_string()];
        if let Some(failed) = self.failed {
            headers.push("FAILED");
            row.push(failed.to_string());
        }
        headers.extend(["MB", "SECONDS", "MSGS/S", "MB/S"]);
        row.extend([
            format!("{:.2}", self.mb),
            format!("{:.3}", self.seconds),
            format!("{:.0}", self.msgs_per_sec),
            format!("{:.2}", self.mb_per_sec),
        ]);
        match &self.latency {
            Some(l) => {
                headers.extend(["AVG_MS", "P50_MS", "P95_MS", "P99_MS", "P99.9_MS", "MAX_MS"]);
                row.extend(
                    [l.avg_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms].map(|v| format!("{v:.2}")),
                );
            }
            None => {
                headers.push("LATENCY");
                row.push("n/a".to_string());
            }
        }
        let mut table = Table::new(headers);
        table.row(row);
        table.print()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let summary = LatencySummary::from_micros((1..=1000).rev().collect()).expect("non-empty");
        assert_eq!(summary.p50_ms, 0.5);
        assert_eq!(summary.p95_ms, 0.95);
        assert_eq!(summary.p99_ms, 0.99);
        assert_eq!(summary.p999_ms, 0.999);
        assert_eq!(summary.max_ms, 1.0);
        assert!((summary.avg_ms - 0.5005).abs() < 1e-9);
        assert_eq!(LatencySummary::from_micros(vec![7]).map(|s| s.p50_ms), Some(0.007));
        assert_eq!(LatencySummary::from_micros(Vec::new()), None);
    }

    #[test]
    fn rates_handle_zero_duration() {
        let summary = BenchSummary::new("consume", "t", 10, 1024 * 1024, 0.0);
        assert_eq!(summary.mb, 1.0);
        assert_eq!(summary.msgs_per_sec, 0.0);
    }
}
