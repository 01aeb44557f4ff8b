//! The history of one chaos run: everything the workload, the nemesis and the runner observed.
//!
//! A [`History`] is plain data: it is appended to while the run goes on, saved as JSON, and checked
//! afterwards by [`crate::checker::check`]. It never interprets what it holds. All times are ms since
//! the run start.
//!
//! Invariants the recorders keep (the checker relies on them):
//! - a value is unique within its partition for the whole run;
//! - one consumer's reads and position events are appended in the order they happened
//!   (see [`ConsumerRecord`]);
//! - `seq` counts each producer's sends to one partition from 0.

mod consumer;
mod fault;
mod final_state;
mod write;

pub use consumer::{CommittedOffset, ConsumerEvent, ConsumerEventKind, ConsumerRecord, Read};
pub use fault::{Fault, FaultId, FaultKind};
pub use final_state::{FinalRead, ReplicaCheck};
pub use write::{Write, WriteOutcome};

use serde::{Deserialize, Serialize};

/// Everything one run observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The seed the run was started with (replays the same schedule of faults and workload).
    pub seed: u64,
    /// The topic the workload wrote to.
    pub topic: String,
    /// The topic's partition count; partitions are `0..partitions`.
    pub partitions: i32,
    /// How long the run lasted, in ms.
    pub duration_ms: u64,
    /// Every write attempted, in the order recorded.
    pub writes: Vec<Write>,
    /// Reads and consumer position events, in the order they happened per consumer.
    pub consumer_log: Vec<ConsumerRecord>,
    /// Observations of committed offsets.
    pub committed_offsets: Vec<CommittedOffset>,
    /// Faults injected, in the order begun.
    pub faults: Vec<Fault>,
    /// The final drain of each partition after healing.
    pub final_reads: Vec<FinalRead>,
    /// The replica comparisons after healing.
    pub replica_checks: Vec<ReplicaCheck>,
}

impl History {
    /// An empty history for a run of `topic` with `partitions` partitions.
    pub fn new(seed: u64, topic: impl Into<String>, partitions: i32) -> Self {
        Self { seed, topic: topic.into(), partitions, ..Self::default() }
    }

    /// Records a write attempt with its outcome.
    pub fn record_write(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// Records a record a consumer received.
    pub fn record_read(&mut self, read: Read) {
        self.consumer_log.push(ConsumerRecord::Read(read));
    }

    /// Records a consumer position event.
    pub fn record_consumer_event(&mut self, event: ConsumerEvent) {
        self.consumer_log.push(ConsumerRecord::Event(event));
    }

    /// Records an observation of a group's committed offset.
    pub fn record_committed_offset(&mut self, committed: CommittedOffset) {
        self.committed_offsets.push(committed);
    }

    /// Records the start of a fault; end it with [`History::end_fault`].
    pub fn begin_fault(&mut self, kind: FaultKind, target: impl Into<String>, start_ms: u64) -> FaultId {
        self.faults.push(Fault { kind, target: target.into(), start_ms, end_ms: None });
        FaultId(self.faults.len() - 1)
    }

    /// Records when a fault was healed.
    ///
    /// # Panics
    /// If `id` was not returned by [`History::begin_fault`] on this history.
    pub fn end_fault(&mut self, id: FaultId, end_ms: u64) {
        self.faults[id.0].end_ms = Some(end_ms);
    }

    /// Records a complete fault (start and end known).
    pub fn record_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Records the final drain of one partition.
    pub fn record_final_read(&mut self, final_read: FinalRead) {
        self.final_reads.push(final_read);
    }

    /// Records a replica comparison.
    pub fn record_replica_check(&mut self, check: ReplicaCheck) {
        self.replica_checks.push(check);
    }

    /// Sets the run's duration.
    pub fn set_duration_ms(&mut self, duration_ms: u64) {
        self.duration_ms = duration_ms;
    }

    /// Every consumer read, in log order.
    pub fn reads(&self) -> impl Iterator<Item = &Read> {
        self.consumer_log.iter().filter_map(|r| match r {
            ConsumerRecord::Read(read) => Some(read),
            ConsumerRecord::Event(_) => None,
        })
    }

    /// Every consumer position event, in log order.
    pub fn consumer_events(&self) -> impl Iterator<Item = &ConsumerEvent> {
        self.consumer_log.iter().filter_map(|r| match r {
            ConsumerRecord::Event(event) => Some(event),
            ConsumerRecord::Read(_) => None,
        })
    }

    /// The history as compact JSON (histories of long runs are large).
    pub fn to_json(&self) -> String {
        // A History holds only strings, integers, vectors and enums with string tags: serializing it
        // cannot fail.
        serde_json::to_string(self).expect("History serializes to JSON")
    }

    /// Parses a history from JSON.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}
