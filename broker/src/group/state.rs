//! One group's state ([`Group`], [`GroupState`], Kafka's `GroupMetadata`): what it holds, what it
//! tells DescribeGroups and ListGroups, DeleteGroups and unloading, and the checks and answers every
//! group API shares. Rebalancing itself is in `rebalance.rs`, deadlines in `timers.rs`.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

use super::GroupConfig;
use super::history::{RebalanceCause, RebalanceHistory};
use super::member::{Member, Members};
use super::messages::{
    Effect, GroupOverview, GroupSummary, JoinGroupMember, JoinGroupResponse, MemberSummary, Outcome,
    Protocol, Reply, SyncGroupResponse,
};
use super::rebalance::JoinPhase;
use crate::error_code::ErrorCode;

/// A group's state, spelled as Kafka spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members (possibly committed offsets only).
    Empty,
    /// A rebalance waits for members to (re)join.
    PreparingRebalance,
    /// The join phase completed; the group waits for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// Deleted or unloaded; every request is refused.
    Dead,
}

impl GroupState {
    /// Every state.
    pub const ALL: [GroupState; 5] =
        [Self::Empty, Self::PreparingRebalance, Self::CompletingRebalance, Self::Stable, Self::Dead];

    /// Kafka's name: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`, `Dead`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }

    /// The state named `name`, ignoring case (ListGroups' states filter).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// States this one may be entered from (Kafka's `validPreviousStates`).
    fn valid_previous(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an operation does for its caller before effects are matched to it.
pub(super) enum Step<R> {
    /// Answer now.
    Respond(R),
    /// Wait under this member id (the answer may already be among the effects).
    Wait(String),
}

/// One consumer group (Kafka's `GroupMetadata`). See the module docs of [`super`] for how a
/// coordinator drives it.
#[derive(Debug, Clone)]
pub struct Group {
    pub(super) group_id: String,
    pub(super) config: GroupConfig,
    pub(super) state: GroupState,
    pub(super) generation_id: i32,
    pub(super) protocol_type: Option<String>,
    pub(super) protocol_name: Option<String>,
    pub(super) leader: Option<String>,
    pub(super) members: Members,
    /// Member ids handed out with MEMBER_ID_REQUIRED, and when each expires.
    pub(super) pending_members: BTreeMap<String, i64>,
    pub(super) join_phase: Option<JoinPhase>,
    /// When members that have not sent SyncGroup in this generation are removed.
    pub(super) sync_deadline_ms: Option<i64>,
    pub(super) history: RebalanceHistory,
}

impl Group {
    /// A new, Empty group at generation 0.
    pub fn new(group_id: impl Into<String>, config: GroupConfig) -> Self {
        Self {
            group_id: group_id.into(),
            config,
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Members::default(),
            pending_members: BTreeMap::new(),
            join_phase: None,
            sync_deadline_ms: None,
            history: RebalanceHistory::default(),
        }
    }

    /// Group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// Current state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Current generation (0 before the first completed join phase).
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Protocol type, set by the first member.
    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// The protocol chosen for the current generation.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The leader's member id.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    /// A member by id.
    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    /// Members in join order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.iter()
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The member id currently holding `group_instance_id`.
    pub fn static_member(&self, group_instance_id: &str) -> Option<&str> {
        self.members.static_member(group_instance_id)
    }

    /// Whether `member_id` was handed out with MEMBER_ID_REQUIRED and has not joined yet.
    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_members.contains_key(member_id)
    }

    /// What started the rebalance in progress (state PreparingRebalance).
    pub fn rebalance_cause(&self) -> Option<&RebalanceCause> {
        self.join_phase.as_ref().map(|p| &p.cause)
    }

    /// Rebalance records and counters.
    pub fn history(&self) -> &RebalanceHistory {
        &self.history
    }

    /// DescribeGroups data: metadata and assignments only while Stable, as Kafka does.
    pub fn describe(&self) -> GroupSummary {
        let stable = self.state == GroupState::Stable;
        let protocol = if stable { self.protocol_name.clone().unwrap_or_default() } else { String::new() };
        let members = self
            .members
            .iter()
            .map(|m| MemberSummary {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol).cloned().unwrap_or_default()
                } else {
                    Bytes::new()
                },
                assignment: if stable { m.assignment.clone() } else { Bytes::new() },
            })
            .collect();
        GroupSummary {
            group_id: self.group_id.clone(),
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol,
            members,
        }
    }

    /// ListGroups data.
    pub fn overview(&self) -> GroupOverview {
        GroupOverview {
            group_id: self.group_id.clone(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            state: self.state,
        }
    }

    /// DeleteGroups: an Empty group becomes Dead (the coordinator then drops it and its offsets);
    /// NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND once Dead.
    pub fn delete(&mut self) -> Result<(), ErrorCode> {
        match self.state {
            GroupState::Empty => {
                self.transition(GroupState::Dead);
                self.pending_members.clear();
                Ok(())
            }
            GroupState::Dead => Err(ErrorCode::GroupIdNotFound),
            _ => Err(ErrorCode::NonEmptyGroup),
        }
    }

    /// This broker stops coordinating the group: it becomes Dead and waiting requests get
    /// NOT_COORDINATOR so their clients look the coordinator up again (Kafka's `onGroupUnloaded`).
    pub fn unload(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        let ids: Vec<String> = self.members.iter().map(|m| m.member_id.clone()).collect();
        for id in ids {
            self.answer_join(
                &id,
                JoinGroupResponse::error(id.as_str(), ErrorCode::NotCoordinator),
                &mut effects,
            );
            self.answer_sync(&id, SyncGroupResponse::error(ErrorCode::NotCoordinator), &mut effects);
        }
        self.transition(GroupState::Dead);
        self.join_phase = None;
        self.sync_deadline_ms = None;
        effects
    }

    pub(super) fn transition(&mut self, to: GroupState) {
        debug_assert!(to.valid_previous().contains(&self.state), "group state {} -> {to}", self.state);
        self.state = to;
    }

    /// Kafka's `validateCurrentMember`: a static member's instance id must map to `member_id`
    /// (FENCED_INSTANCE_ID otherwise), and the member must exist.
    pub(super) fn validate_current_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        match group_instance_id {
            Some(instance) => match self.members.static_member(instance) {
                Some(current) if current != member_id => Err(ErrorCode::FencedInstanceId),
                Some(_) => Ok(()),
                None => Err(ErrorCode::UnknownMemberId),
            },
            None if self.members.contains(member_id) => Ok(()),
            None => Err(ErrorCode::UnknownMemberId),
        }
    }

    /// Whether a member with these protocols may join: any type and protocols for an Empty group,
    /// else the group's type and at least one protocol every member supports.
    pub(super) fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.state == GroupState::Empty {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|p| self.members.iter().all(|m| m.supports(&p.name)))
        }
    }

    pub(super) fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// Every member with its metadata for the chosen protocol, for the leader's JoinGroup response.
    pub(super) fn roster(&self) -> Vec<JoinGroupMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinGroupMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// A successful JoinGroup response for the current generation.
    pub(super) fn join_response(&self, member_id: &str, members: Vec<JoinGroupMember>) -> JoinGroupResponse {
        JoinGroupResponse {
            error: ErrorCode::None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members,
        }
    }

    /// Answers the member's waiting JoinGroup, if any.
    pub(super) fn answer_join(&mut self, member_id: &str, response: JoinGroupResponse, fx: &mut Vec<Effect>) {
        if let Some(member) = self.members.get_mut(member_id)
            && member.awaiting_join
        {
            member.awaiting_join = false;
            fx.push(Effect::JoinGroup { member_id: member_id.to_owned(), response });
        }
    }

    /// Answers the member's waiting SyncGroup, if any.
    pub(super) fn answer_sync(&mut self, member_id: &str, response: SyncGroupResponse, fx: &mut Vec<Effect>) {
        if let Some(member) = self.members.get_mut(member_id)
            && member.awaiting_sync
        {
            member.awaiting_sync = false;
            fx.push(Effect::SyncGroup { member_id: member_id.to_owned(), response });
        }
    }
}

/// Matches the caller's step with the effects: a response addressed to the caller (by `take`)
/// becomes its immediate reply.
pub(super) fn resolve<R>(
    step: Step<R>,
    mut effects: Vec<Effect>,
    take: fn(&mut Vec<Effect>, &str) -> Option<R>,
) -> Outcome<R> {
    let reply = match step {
        Step::Respond(response) => Reply::Now(response),
        Step::Wait(member_id) => match take(&mut effects, &member_id) {
            Some(response) => Reply::Now(response),
            None => Reply::Pending { member_id },
        },
    };
    Outcome { reply, effects }
}
