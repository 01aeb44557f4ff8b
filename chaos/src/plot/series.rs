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

#[cfg(test)]
mod tests {
    use super::Series;
    use crate::history::{History, Write, WriteOutcome};

    fn write(start_ms: u64, end_ms: u64, outcome: WriteOutcome) -> Write {
        Write {
            producer: 0,
            key: "k".into(),
            partition: 0,
            value: format!("{start_ms}"),
            seq: 0,
            start_ms,
            end_ms,
            outcome,
        }
    }

    #[test]
    fn acks_are_bucketed_by_the_second_they_arrived_in() {
        let mut history = History::new(1, "t", 1);
        history.set_duration_ms(3500);
        history.record_write(write(0, 10, WriteOutcome::Ok { offset: 0 }));
        history.record_write(write(900, 1000, WriteOutcome::Ok { offset: 1 }));
        history.record_write(write(950, 1400, WriteOutcome::Ok { offset: 2 }));
        history.record_write(write(1000, 1500, WriteOutcome::Unknown { error: "timeout".into() }));
        let series = Series::of(&history);
        assert_eq!(series.seconds(), 4);
        assert_eq!(series.acks_per_second, vec![1, 2, 0, 0]);
        assert_eq!(series.p99_latency_ms, vec![Some(10), Some(450), None, None]);
    }

    #[test]
    fn empty_history_has_one_empty_second() {
        let series = Series::of(&History::default());
        assert_eq!((series.acks_per_second, series.p99_latency_ms), (vec![0], vec![None]));
    }
}
