//! The checker: a pure, deterministic function from a [`History`] to a [`CheckResult`].
//!
//! It owns the definition of every safety anomaly and of failover time. It must never do I/O, read
//! a clock or depend on hash order: the same history always gives the same result, byte for byte.
//!
//! ```text
//!             ┌─▶ durability     LostWrite, WrongOffset, unknown writes recovered/absent
//!             ├─▶ failed_writes  ReadOfFailedWrite
//! History ─▶ Index ─▶ offsets    Duplicate, InconsistentOffset
//!   │                                                                    ──▶ CheckResult
//!   ├──────────▶ ordering         Reordered
//!   ├──────────▶ consumers        ConsumerWentBack
//!   ├──────────▶ commits          CommitWentBack
//!   ├──────────▶ replicas         ReplicaDivergence
//!   └──────────▶ availability     failover p50/p99/max, overall and per fault kind
//! ```
//!
//! A write that was never observed is not an anomaly unless it was acknowledged (or consumed): a
//! write whose outcome is unknown may or may not appear, and is only counted as recovered or absent.

mod anomaly;
mod availability;
mod commits;
mod consumers;
mod durability;
mod failed_writes;
mod index;
mod offsets;
mod ordering;
mod replicas;

pub use anomaly::{Anomaly, AnomalyKind};
pub(crate) use availability::percentile;
pub use availability::{Availability, FailoverSample, FailoverStats};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::history::{FaultKind, History, WriteOutcome};
use index::Index;

/// Tallies of what a history holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Writes attempted.
    pub writes_attempted: usize,
    /// Writes acknowledged.
    pub writes_ok: usize,
    /// Writes that definitely failed.
    pub writes_failed: usize,
    /// Writes whose outcome is unknown.
    pub writes_unknown: usize,
    /// Unknown writes observed after all (by a consumer or in the final read).
    pub unknown_recovered: usize,
    /// Unknown writes never observed.
    pub unknown_absent: usize,
    /// Records consumers received.
    pub reads: usize,
    /// Consumer position events.
    pub consumer_events: usize,
    /// Committed-offset observations.
    pub committed_offset_observations: usize,
    /// Records in the final reads.
    pub final_records: usize,
    /// Reads and final records whose value no write in the history produced.
    pub observed_unwritten_values: usize,
    /// Faults injected.
    pub faults: usize,
    /// Replica checks made.
    pub replica_checks: usize,
}

/// The verdict on one history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Safety verdict: `true` iff no anomaly was found.
    pub ok: bool,
    /// Tallies of the history.
    pub counts: Counts,
    /// Every anomaly, ordered by kind, then partition, then discovery.
    pub anomalies: Vec<Anomaly>,
    /// How many anomalies of each kind (kinds found only).
    pub anomalies_by_kind: BTreeMap<AnomalyKind, usize>,
    /// How many faults of each kind were injected (kinds injected only).
    pub faults_by_kind: BTreeMap<FaultKind, usize>,
    /// Failover times.
    pub failover: Availability,
    /// Partitions with writes or in `0..partitions` but no final read: their durability is unchecked.
    pub unchecked_partitions: Vec<i32>,
    /// Ways the history itself breaks the recorders' invariants (values written twice, ...).
    pub notes: Vec<String>,
}

impl CheckResult {
    /// How many anomalies of `kind` were found.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.anomalies_by_kind.get(&kind).copied().unwrap_or(0)
    }
}

/// Checks a history for safety anomalies and measures failover times.
pub fn check(history: &History) -> CheckResult {
    let index = Index::build(history);
    let durability = durability::check(history, &index);
    let mut anomalies = durability.anomalies;
    anomalies.extend(failed_writes::check(history, &index));
    anomalies.extend(offsets::duplicates(&index));
    anomalies.extend(offsets::inconsistent(&index));
    anomalies.extend(ordering::check(history));
    anomalies.extend(consumers::check(history));
    anomalies.extend(commits::check(history));
    anomalies.extend(replicas::check(history));
    anomalies.sort_by_key(|a| (a.kind, a.partition));

    let mut anomalies_by_kind = BTreeMap::new();
    for anomaly in &anomalies {
        *anomalies_by_kind.entry(anomaly.kind).or_insert(0) += 1;
    }
    let mut faults_by_kind = BTreeMap::new();
    for fault in &history.faults {
        *faults_by_kind.entry(fault.kind).or_insert(0) += 1;
    }
    let mut counts = counts(history, &index);
    counts.unknown_recovered = durability.unknown_recovered;
    counts.unknown_absent = durability.unknown_absent;
    let mut notes = notes(&index);
    if counts.observed_unwritten_values > 0 {
        notes.push(format!(
            "{} observed record(s) hold values no write in this history produced \
             (a topic reused from an earlier run, or corruption)",
            counts.observed_unwritten_values
        ));
    }

    if let Some((from, to)) = availability::longest_ack_gap(history)
        && to - from > availability::STALL_MS
    {
        notes.push(format!(
            "no write was acknowledged for {:.1} s (from {from} ms to {to} ms): the workload stalled \
             (a liveness problem; safety is checked regardless)",
            (to - from) as f64 / 1000.0
        ));
    }

    CheckResult {
        ok: anomalies.is_empty(),
        counts,
        anomalies,
        anomalies_by_kind,
        faults_by_kind,
        failover: availability::check(history),
        unchecked_partitions: unchecked_partitions(history, &index),
        notes,
    }
}

fn counts(history: &History, index: &Index<'_>) -> Counts {
    let mut counts = Counts {
        writes_attempted: history.writes.len(),
        reads: history.reads().count(),
        consumer_events: history.consumer_events().count(),
        committed_offset_observations: history.committed_offsets.len(),
        final_records: history.final_reads.iter().map(|f| f.records.len()).sum(),
        faults: history.faults.len(),
        replica_checks: history.replica_checks.len(),
        ..Counts::default()
    };
    for write in &history.writes {
        match write.outcome {
            WriteOutcome::Ok { .. } => counts.writes_ok += 1,
            WriteOutcome::Failed { .. } => counts.writes_failed += 1,
            WriteOutcome::Unknown { .. } => counts.writes_unknown += 1,
        }
    }
    let unwritten = |partition: i32, value: &str| !index.writes.contains_key(&(partition, value));
    counts.observed_unwritten_values = history.reads().filter(|r| unwritten(r.partition, &r.value)).count()
        + history
            .final_reads
            .iter()
            .flat_map(|f| f.records.iter().map(move |(_, value)| (f.partition, value)))
            .filter(|(partition, value)| unwritten(*partition, value))
            .count();
    counts
}

fn unchecked_partitions(history: &History, index: &Index<'_>) -> Vec<i32> {
    let expected: BTreeSet<i32> =
        (0..history.partitions).chain(history.writes.iter().map(|w| w.partition)).collect();
    expected.difference(&index.final_partitions).copied().collect()
}

fn notes(index: &Index<'_>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some((partition, value)) = index.rewritten.first() {
        notes.push(format!(
            "{} value(s) were written more than once (first: {value:?} on partition {partition}); \
             only the first write of each is checked",
            index.rewritten.len()
        ));
    }
    notes
}

/// `5` or `{3, 5}`.
fn offsets_text(offsets: &BTreeSet<i64>) -> String {
    match offsets.len() {
        1 => offsets.iter().map(i64::to_string).collect(),
        _ => format!("{offsets:?}"),
    }
}
