//! Why a group rebalanced: one record per generation change (the latest [`HISTORY_LIMIT`]) and a
//! counter per cause over the group's lifetime, for DescribeGroups-style tooling and metrics.

use std::collections::VecDeque;
use std::fmt;

/// How many rebalance records a group keeps.
pub const HISTORY_LIMIT: usize = 100;

/// What started a rebalance (moved the group to PreparingRebalance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceCause {
    /// A new member joined.
    MemberJoined {
        /// The new member.
        member_id: String,
    },
    /// A member sent LeaveGroup (or was removed by instance id).
    MemberLeft {
        /// The member that left.
        member_id: String,
    },
    /// A member's session expired without a heartbeat.
    SessionTimeout {
        /// The expired member.
        member_id: String,
    },
    /// Members that got their JoinGroup response did not send SyncGroup within the rebalance timeout
    /// and were removed.
    RebalanceTimeout {
        /// The removed members.
        member_ids: Vec<String>,
    },
    /// A member rejoined with different protocols or metadata (e.g. a changed subscription).
    ProtocolChange {
        /// The member.
        member_id: String,
    },
    /// The leader rejoined a Stable group (it asks for a new assignment, e.g. after a metadata change).
    LeaderRejoined {
        /// The leader.
        member_id: String,
    },
    /// A static member restarted while the group awaited the leader's assignment.
    StaticMemberRejoined {
        /// The member's new id.
        member_id: String,
    },
}

impl RebalanceCause {
    /// The cause without its member ids.
    pub fn kind(&self) -> RebalanceCauseKind {
        match self {
            Self::MemberJoined { .. } => RebalanceCauseKind::MemberJoined,
            Self::MemberLeft { .. } => RebalanceCauseKind::MemberLeft,
            Self::SessionTimeout { .. } => RebalanceCauseKind::SessionTimeout,
            Self::RebalanceTimeout { .. } => RebalanceCauseKind::RebalanceTimeout,
            Self::ProtocolChange { .. } => RebalanceCauseKind::ProtocolChange,
            Self::LeaderRejoined { .. } => RebalanceCauseKind::LeaderRejoined,
            Self::StaticMemberRejoined { .. } => RebalanceCauseKind::StaticMemberRejoined,
        }
    }
}

impl fmt::Display for RebalanceCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MemberJoined { member_id } => write!(f, "member {member_id} joined"),
            Self::MemberLeft { member_id } => write!(f, "member {member_id} left"),
            Self::SessionTimeout { member_id } => write!(f, "session timeout of member {member_id}"),
            Self::RebalanceTimeout { member_ids } => {
                write!(f, "rebalance timeout removed members {}", member_ids.join(", "))
            }
            Self::ProtocolChange { member_id } => write!(f, "protocol change of member {member_id}"),
            Self::LeaderRejoined { member_id } => write!(f, "leader {member_id} rejoined"),
            Self::StaticMemberRejoined { member_id } => write!(f, "static member {member_id} rejoined"),
        }
    }
}

/// A [`RebalanceCause`] without member ids: the label of a per-cause counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceCauseKind {
    /// See [`RebalanceCause::MemberJoined`].
    MemberJoined,
    /// See [`RebalanceCause::MemberLeft`].
    MemberLeft,
    /// See [`RebalanceCause::SessionTimeout`].
    SessionTimeout,
    /// See [`RebalanceCause::RebalanceTimeout`].
    RebalanceTimeout,
    /// See [`RebalanceCause::ProtocolChange`].
    ProtocolChange,
    /// See [`RebalanceCause::LeaderRejoined`].
    LeaderRejoined,
    /// See [`RebalanceCause::StaticMemberRejoined`].
    StaticMemberRejoined,
}

impl RebalanceCauseKind {
    /// Every kind, in counter order.
    pub const ALL: [RebalanceCauseKind; 7] = [
        Self::MemberJoined,
        Self::MemberLeft,
        Self::SessionTimeout,
        Self::RebalanceTimeout,
        Self::ProtocolChange,
        Self::LeaderRejoined,
        Self::StaticMemberRejoined,
    ];

    /// A metric label: `member_joined`, `session_timeout`, …
    pub fn label(self) -> &'static str {
        match self {
            Self::MemberJoined => "member_joined",
            Self::MemberLeft => "member_left",
            Self::SessionTimeout => "session_timeout",
            Self::RebalanceTimeout => "rebalance_timeout",
            Self::ProtocolChange => "protocol_change",
            Self::LeaderRejoined => "leader_rejoined",
            Self::StaticMemberRejoined => "static_member_rejoined",
        }
    }
}

/// One generation change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebalanceRecord {
    /// The generation the rebalance produced.
    pub generation_id: i32,
    /// What started the rebalance.
    pub cause: RebalanceCause,
    /// When the rebalance started (the group entered PreparingRebalance), on the monotonic clock.
    pub started_ms: i64,
    /// When the join phase completed and the generation changed, on the monotonic clock.
    pub completed_ms: i64,
    /// Members in the new generation.
    pub member_count: usize,
    /// Dynamic members removed because they had not rejoined when the rebalance timeout passed.
    pub removed_on_timeout: Vec<String>,
}

/// The latest [`HISTORY_LIMIT`] rebalance records and per-cause counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebalanceHistory {
    records: VecDeque<RebalanceRecord>,
    counts: [u64; RebalanceCauseKind::ALL.len()],
    removed_on_timeout: u64,
}

impl RebalanceHistory {
    /// Records a generation change, dropping the oldest record beyond [`HISTORY_LIMIT`].
    pub fn record(&mut self, record: RebalanceRecord) {
        self.counts[record.cause.kind() as usize] += 1;
        self.removed_on_timeout += record.removed_on_timeout.len() as u64;
        if self.records.len() == HISTORY_LIMIT {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> impl ExactSizeIterator<Item = &RebalanceRecord> {
        self.records.iter()
    }

    /// The latest record.
    pub fn last(&self) -> Option<&RebalanceRecord> {
        self.records.back()
    }

    /// Completed rebalances started by `kind` over the group's lifetime.
    pub fn count(&self, kind: RebalanceCauseKind) -> u64 {
        self.counts[kind as usize]
    }

    /// Completed rebalances over the group's lifetime.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Members removed for not rejoining within the rebalance timeout, over the group's lifetime.
    pub fn removed_on_timeout(&self) -> u64 {
        self.removed_on_timeout
    }
}
