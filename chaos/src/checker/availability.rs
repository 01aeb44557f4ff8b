//! Availability: how long after each fault every partition accepted writes again.
//!
//! The failover time of a fault `f` on partition `p` is
//! `min { w.end_ms : w acknowledged on p, w.start_ms >= f.start_ms } - f.start_ms`:
//! the earliest acknowledgement of a write *sent* after the fault began (writes in flight when it
//! began may have been appended before it, so they prove nothing). A pair with no such write is
//! unrecovered. Statistics use the nearest-rank percentile over all `(fault, partition)` pairs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::{FaultKind, History};

/// The failover time of one fault on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverSample {
    /// The fault's index in [`History::faults`].
    pub fault: usize,
    /// The fault's kind.
    pub kind: FaultKind,
    /// The partition.
    pub partition: i32,
    /// ms from the fault's start to the first acknowledgement of a write sent after it began;
    /// `None` if no such write was acknowledged.
    pub failover_ms: Option<u64>,
}

/// Failover statistics over a set of samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverStats {
    /// `(fault, partition)` pairs.
    pub samples: usize,
    /// Pairs with no acknowledged write after the fault began.
    pub unrecovered: usize,
    /// Median failover time over recovered pairs (nearest rank).
    pub p50_ms: Option<u64>,
    /// 99th percentile failover time over recovered pairs (nearest rank).
    pub p99_ms: Option<u64>,
    /// Longest failover time over recovered pairs.
    pub max_ms: Option<u64>,
}

/// Failover times of a run, overall and per fault kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Over every `(fault, partition)` pair.
    pub overall: FailoverStats,
    /// Per fault kind (kinds that occurred).
    pub by_kind: BTreeMap<FaultKind, FailoverStats>,
    /// Every `(fault, partition)` pair, faults in history order, partitions ascending.
    pub samples: Vec<FailoverSample>,
}

/// Computes failover times for every fault on every partition `0..history.partitions`.
pub(super) fn check(history: &History) -> Availability {
    let acks = AcksByPartition::build(history);
    let mut samples = Vec::with_capacity(history.faults.len() * history.partitions.max(0) as usize);
    for (index, fault) in history.faults.iter().enumerate() {
        for partition in 0..history.partitions {
            let failover_ms =
                acks.first_ack_of_write_sent_since(partition, fault.start_ms).map(|end| end - fault.start_ms);
            samples.push(FailoverSample { fault: index, kind: fault.kind, partition, failover_ms });
        }
    }
    let mut by_kind: BTreeMap<FaultKind, Vec<&FailoverSample>> = BTreeMap::new();
    for sample in &samples {
        by_kind.entry(sample.kind).or_default().push(sample);
    }
    Availability {
        overall: stats(samples.iter()),
        by_kind: by_kind.into_iter().map(|(kind, of_kind)| (kind, stats(of_kind.into_iter()))).collect(),
        samples,
    }
}

/// Acknowledged writes of each partition sorted by `start_ms`, with the suffix minimum of `end_ms`.
struct AcksByPartition {
    /// partition -> (start_ms ascending, min end_ms over this and every later-started write)
    partitions: BTreeMap<i32, (Vec<u64>, Vec<u64>)>,
}

impl AcksByPartition {
    fn build(history: &History) -> Self {
        let mut spans: BTreeMap<i32, Vec<(u64, u64)>> = BTreeMap::new();
        for write in history.writes.iter().filter(|w| w.is_acked()) {
            // An ack cannot precede its send; clamp so a skewed record cannot underflow later.
            spans
                .entry(write.partition)
                .or_default()
                .push((write.start_ms, write.end_ms.max(write.start_ms)));
        }
        let partitions = spans
            .into_iter()
            .map(|(partition, mut spans)| {
                spans.sort_unstable();
                let starts = spans.iter().map(|s| s.0).collect();
                let mut suffix_min: Vec<u64> = spans.iter().map(|s| s.1).collect();
                for i in (0..suffix_min.len().saturating_sub(1)).rev() {
                    suffix_min[i] = suffix_min[i].min(suffix_min[i + 1]);
                }
                (partition, (starts, suffix_min))
            })
            .collect();
        Self { partitions }
    }

    /// The earliest `end_ms` of an acknowledged write on `partition` with `start_ms >= since`.
    fn first_ack_of_write_sent_since(&self, partition: i32, since: u64) -> Option<u64> {
        let (starts, suffix_min) = self.partitions.get(&partition)?;
        let first = starts.partition_point(|&start| start < since);
        suffix_min.get(first).copied()
    }
}

fn stats<'a>(samples: impl Iterator<Item = &'a FailoverSample>) -> FailoverStats {
    let mut count = 0;
    let mut times: Vec<u64> = Vec::new();
    for sample in samples {
        count += 1;
        times.extend(sample.failover_ms);
    }
    times.sort_unstable();
    FailoverStats {
        samples: count,
        unrecovered: count - times.len(),
        p50_ms: percentile(&times, 50),
        p99_ms: percentile(&times, 99),
        max_ms: times.last().copied(),
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `pct`% of values at or
/// below it.
pub(crate) fn percentile(sorted: &[u64], pct: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A gap in acknowledgements longer than this is reported as a stall.
pub(super) const STALL_MS: u64 = 10_000;

/// The longest stretch of the run with no acknowledged write, as `(from_ms, to_ms)`: between two
/// acknowledgements, or from the last one to the end of the run. `None` without acknowledgements.
pub(super) fn longest_ack_gap(history: &History) -> Option<(u64, u64)> {
    let mut acks: Vec<u64> = history.writes.iter().filter(|w| w.is_acked()).map(|w| w.end_ms).collect();
    acks.sort_unstable();
    let end = history.duration_ms.max(acks.last().copied()?);
    acks.windows(2)
        .map(|pair| (pair[0], pair[1]))
        .chain(std::iter::once((*acks.last()?, end)))
        .max_by_key(|(from, to)| to - from)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 1), Some(7));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 99), Some(4));
        assert_eq!(percentile(&[1, 2, 3, 4], 0), Some(1));
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 99), Some(99));
        assert_eq!(percentile(&hundred, 100), Some(100));
    }
}
