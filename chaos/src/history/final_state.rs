//! What the cluster holds after healing: the final drain of each partition and replica comparisons.

use serde::{Deserialize, Serialize};

/// Every record of one partition, read after all faults were healed, from its log start to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalRead {
    /// The partition.
    pub partition: i32,
    /// `(offset, value)` of every record, in the order read.
    pub records: Vec<(i64, String)>,
}

/// The runner's comparison of one partition's replicas after healing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaCheck {
    /// The partition.
    pub partition: i32,
    /// Whether every replica holds the same records up to the high watermark.
    pub identical_up_to_hw: bool,
    /// What was compared, and where replicas differ.
    pub detail: String,
}
