//! Faults the nemesis injected.

use serde::{Deserialize, Serialize};

/// The kinds of faults the nemesis injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `kill -9` of a broker (then restarted).
    KillBroker,
    /// `kill -9` of the leader of a partition.
    KillLeader,
    /// `kill -9` of the controller quorum's leader.
    KillControllerLeader,
    /// `SIGSTOP` then `SIGCONT` of a process.
    Pause,
    /// A network partition.
    Partition,
    /// Restart of every broker, one at a time.
    RollingRestart,
    /// A broker's data disk filled up.
    DiskFull,
    /// A node's clock moved.
    ClockSkew,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 8] = [
        Self::KillBroker,
        Self::KillLeader,
        Self::KillControllerLeader,
        Self::Pause,
        Self::Partition,
        Self::RollingRestart,
        Self::DiskFull,
        Self::ClockSkew,
    ];

    /// The snake_case name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Self::KillBroker => "kill_broker",
            Self::KillLeader => "kill_leader",
            Self::KillControllerLeader => "kill_controller_leader",
            Self::Pause => "pause",
            Self::Partition => "partition",
            Self::RollingRestart => "rolling_restart",
            Self::DiskFull => "disk_full",
            Self::ClockSkew => "clock_skew",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// What was done.
    pub kind: FaultKind,
    /// What it was done to (a broker id, a node name, `"b1,b2 | b3"` for a partition, ...).
    pub target: String,
    /// When it started, in ms since the run start.
    pub start_ms: u64,
    /// When it was healed, in ms since the run start; `None` while active (or never healed).
    pub end_ms: Option<u64>,
}

/// The index of a fault in [`crate::History::faults`], returned by
/// [`crate::History::begin_fault`] to end it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaultId(pub usize);
