//! What the checker reports: anomalies and their kinds.

use serde::{Deserialize, Serialize};

/// The kinds of safety violations the checker detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// An acknowledged write (or one a consumer read) is absent from the final read of its partition.
    LostWrite,
    /// An acknowledged write is in the final read, but not at the offset it was acknowledged at.
    WrongOffset,
    /// One value observed at two offsets (in the final read or in any reads).
    Duplicate,
    /// Two different values observed at the same offset of a partition.
    InconsistentOffset,
    /// A producer's acknowledged writes to a partition whose offsets do not increase with `seq`.
    Reordered,
    /// A value whose write definitely failed was read.
    ReadOfFailedWrite,
    /// A consumer read an offset not above one it had already read on the partition, without an
    /// assignment change or seek in between.
    ConsumerWentBack,
    /// A group's committed offset for a partition was observed lower than the observation before it.
    CommitWentBack,
    /// A replica check found replicas that differ below the high watermark.
    ReplicaDivergence,
}

impl AnomalyKind {
    /// The snake_case name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Self::LostWrite => "lost_write",
            Self::WrongOffset => "wrong_offset",
            Self::Duplicate => "duplicate",
            Self::InconsistentOffset => "inconsistent_offset",
            Self::Reordered => "reordered",
            Self::ReadOfFailedWrite => "read_of_failed_write",
            Self::ConsumerWentBack => "consumer_went_back",
            Self::CommitWentBack => "commit_went_back",
            Self::ReplicaDivergence => "replica_divergence",
        }
    }
}

impl std::fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One safety violation found in a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What kind of violation.
    pub kind: AnomalyKind,
    /// The partition it concerns.
    pub partition: i32,
    /// A human description naming the values, offsets, producers or consumers involved.
    pub detail: String,
}

impl Anomaly {
    pub(crate) fn new(kind: AnomalyKind, partition: i32, detail: String) -> Self {
        Self { kind, partition, detail }
    }
}
