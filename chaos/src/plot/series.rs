//! Per-second series of a run, computed from its history (pure).

use crate::checker::percentile;
use crate::history::History;

/// Acknowledged-write throughput and latency per second of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Series {
    /// Acknowledgements received during each second `[i, i + 1)`.
    pub acks_per_second: Vec<u64>,
    /// p99 ack latency (ms) of the writes acknowledged during each second; `None` without acks.
    pub p99_latency_ms: Vec<Option<u64>>,
}

impl Series {
    /// Buckets acknowledged writes by the second their ack arrived in.
    pub fn of(history: &History) -> Self {
        let last_ms = history.writes.iter().map(|w| w.end_ms).max().unwrap_or(0).max(history.duration_ms);
        let seconds = (last_ms.div_ceil(1000) as usize).max(1);
        let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); seconds];
        for write in &history.writes {
            if let Some(latency) = write.ack_latency_ms() {
                let second = ((write.end_ms / 1000) as usize).min(seconds - 1);
                latencies[second].push(latency);
            }
        }
        let acks_per_second = latencies.iter().map(|l| l.len() as u64).collect();
        let p99_latency_ms = latencies
            .into_iter()
            .map(|mut l| {
                l.sort_unstable();
                percentile(&l, 99)
            })
            .collect();
        Self { acks_per_second, p99_latency_ms }
    }

    /// How many seconds the series covers.
    pub fn seconds(&self) -> usize {
        self.acks_per_second.len()
    }
}
