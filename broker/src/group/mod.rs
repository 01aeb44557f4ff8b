//! Consumer-group membership as a pure state machine: Kafka's classic group protocol (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, with KIP-345 static members and KIP-394 `MEMBER_ID_REQUIRED`),
//! following Kafka's `GroupCoordinator` and `GroupMetadata`.
//!
//! **Owns** one group's members, state, generation, chosen protocol, leader and assignments, the
//! deadlines that move it on (member sessions, the join phase, the sync phase), and its rebalance
//! history. **Never** does I/O, awaits, reads a clock, draws random numbers or takes a lock: time comes
//! in as `now_ms`, new member ids through a closure, and every response leaves as a value. Committed
//! offsets are not kept here (`coordinator::offsets`). `now_ms` is monotonic time
//! ([`crate::clock::Clock::monotonic_ms`]), never the wall clock: a step of the wall clock must not
//! expire every session at once; the rebalance history's times are monotonic too.
//!
//! ```text
//!  JoinGroup / SyncGroup ──► Group::join_group / sync_group(request, now_ms)
//!                               ├─► Outcome.reply    Now(response) | Pending { member_id }  (the caller)
//!                               └─► Outcome.effects  [JoinGroup | SyncGroup { member_id, response }]
//!  Heartbeat / LeaveGroup ──► Group::heartbeat / leave_group ─► Answer { response, effects }
//!  timer ───────────────────► Group::tick(now_ms) ─► TickOutcome { effects, next_deadline_ms }
//!
//!            join                    all joined, or the
//!   Empty ─────────► PreparingRebalance ──rebalance timeout──► CompletingRebalance
//!     ▲  no member left     ▲      ▲                               │ leader's SyncGroup
//!     └─────────────────────┘      └── join (leader or new        ▼
//!                                      protocols), leave,  ◄──── Stable
//!                                      session / sync timeout
//! ```
//!
//! # Driving a group
//! The coordinator keeps one [`Group`] per group id behind a mutex and first runs [`gate::check`]
//! (group id, coordinator status; [`gate`] also answers for group ids with no `Group`; JoinGroup with
//! an empty member id creates one with [`Group::new`]). Under the lock it calls the operation with
//! the current time; an operation first fires every timer already due, exactly as [`Group::tick`]
//! does. A [`Reply::Now`] goes back to the caller; [`Reply::Pending`] parks the request under
//! (`member_id`, API) until an [`Effect`] with that member id and API arrives (a newer Pending for the
//! same key replaces the older one, which Kafka never answers). Every returned effect is delivered to
//! the parked request with its key; an effect with nobody waiting is dropped. After every call the
//! coordinator sleeps until [`Group::next_deadline_ms`] (or the next request) and then calls
//! [`Group::tick`].

pub mod gate;
mod heartbeat;
pub mod history;
mod join_group;
mod leave_group;
pub mod member;
pub mod messages;
mod rebalance;
pub mod state;
mod sync_group;
mod timers;

#[cfg(test)]
mod tests;

pub use history::{RebalanceCause, RebalanceCauseKind, RebalanceHistory, RebalanceRecord};
pub use member::Member;
pub use messages::{
    Answer, Effect, GroupOverview, GroupSummary, HeartbeatRequest, JoinGroupMember, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupResponse, LeavingMember, MemberAssignment, MemberLeaveResult, MemberSummary,
    Outcome, Protocol, Reply, SyncGroupRequest, SyncGroupResponse, TickOutcome,
};
pub use state::{Group, GroupState};

/// Group coordinator settings, with Kafka's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`: the smallest session timeout a member may ask for.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: the largest session timeout a member may ask for.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits for
    /// more members, extended by each new member up to the rebalance timeout.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`: the most members a group may have.
    pub max_size: i32,
    /// How long a new member's JoinGroup may wait before the member is dropped (Kafka's fixed
    /// `NewMemberJoinTimeoutMs`, 5 minutes): new members cannot heartbeat before they have an id.
    pub new_member_join_timeout_ms: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX,
            new_member_join_timeout_ms: 300_000,
        }
    }
}
