//! What consumers observed: records received, position events, and committed offsets.

use serde::{Deserialize, Serialize};

/// One record a consumer received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    /// The consumer (workload-local name) that received the record.
    pub consumer: String,
    /// The partition the record came from.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// The record's value.
    pub value: String,
    /// When it was received, in ms since the run start.
    pub time_ms: u64,
}

/// A change of a consumer's position that allows it to read an offset again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerEvent {
    /// The consumer (workload-local name).
    pub consumer: String,
    /// When it happened, in ms since the run start.
    pub time_ms: u64,
    /// What happened.
    pub kind: ConsumerEventKind,
}

/// The kinds of [`ConsumerEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsumerEventKind {
    /// Partitions assigned (group rebalance or manual `assign`).
    Assigned {
        /// The partitions assigned.
        partitions: Vec<i32>,
    },
    /// Partitions revoked (group rebalance or manual unassign).
    Revoked {
        /// The partitions revoked.
        partitions: Vec<i32>,
    },
    /// An explicit seek.
    Seek {
        /// The partition.
        partition: i32,
        /// The offset sought to.
        offset: i64,
    },
}

impl ConsumerEventKind {
    /// Whether this event lets the consumer go back on `partition`.
    pub fn resets(&self, partition: i32) -> bool {
        match self {
            Self::Assigned { partitions } | Self::Revoked { partitions } => partitions.contains(&partition),
            Self::Seek { partition: p, .. } => *p == partition,
        }
    }
}

/// One entry of the consumer log, in the order the workload appended them.
///
/// Reads and position events share one log so that their order is exact even within one millisecond:
/// the checker relies on append order per consumer, never on `time_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerRecord {
    /// A record received.
    Read(Read),
    /// A position event.
    Event(ConsumerEvent),
}

/// An observation of a group's committed offset for one partition (an OffsetFetch result, or a commit
/// the workload itself made). `-1` means no committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// The consumer group.
    pub group: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset observed.
    pub offset: i64,
    /// When it was observed, in ms since the run start.
    pub time_ms: u64,
}
