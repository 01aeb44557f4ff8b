//! Rebalancing (Kafka's `prepareRebalance`, `onCompleteJoin`, `selectProtocol`,
//! `propagateAssignment`): the join phase, the choice of protocol and leader, the hand-out of
//! assignments, and removing members.

use std::collections::HashMap;

use bytes::Bytes;

use super::history::{RebalanceCause, RebalanceRecord};
use super::messages::{Effect, JoinGroupResponse, SyncGroupResponse};
use super::state::{Group, GroupState};
use crate::error_code::ErrorCode;

/// The join phase of a rebalance (state PreparingRebalance): Kafka's `DelayedJoin`, or
/// `InitialDelayedJoin` for a group that was Empty.
#[derive(Debug, Clone)]
pub(super) struct JoinPhase {
    pub(super) cause: RebalanceCause,
    pub(super) started_ms: i64,
    /// When the phase completes even if members are missing.
    pub(super) deadline_ms: i64,
    pub(super) initial_delay: Option<InitialDelay>,
    /// Dynamic members dropped so far for not rejoining.
    pub(super) removed: Vec<String>,
}

/// `group.initial.rebalance.delay.ms` bookkeeping: the phase waits `delay_ms`, and again (up to
/// `remaining_ms` in all) whenever a new member joined meanwhile.
#[derive(Debug, Clone, Copy)]
pub(super) struct InitialDelay {
    pub(super) delay_ms: i64,
    pub(super) remaining_ms: i64,
    pub(super) new_member_added: bool,
}

impl Group {
    /// Kafka's `selectProtocol`: among the protocols every member supports, each member votes for its
    /// most preferred one; most votes wins, ties go to the earliest-joined member's vote.
    pub(super) fn select_protocol(&self) -> Option<String> {
        let first = self.members.iter().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect();
        let mut votes: Vec<(&str, usize)> = Vec::new();
        for vote in self.members.iter().filter_map(|m| m.vote(&candidates)) {
            match votes.iter_mut().find(|(name, _)| *name == vote) {
                Some((_, count)) => *count += 1,
                None => votes.push((vote, 1)),
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, most)| count > most) {
                best = Some((name, count));
            }
        }
        best.map(|(name, _)| name.to_owned())
    }

    /// The group's rebalance timeout: the largest of its members'.
    pub(super) fn rebalance_timeout_ms(&self) -> i64 {
        self.members.iter().map(|m| i64::from(m.rebalance_timeout_ms)).max().unwrap_or(0)
    }

    /// Starts a rebalance unless one is in progress (or the group is Dead).
    pub(super) fn maybe_prepare_rebalance(
        &mut self,
        cause: RebalanceCause,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        if matches!(self.state, GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty) {
            self.prepare_rebalance(cause, now_ms, fx);
        }
    }

    /// Kafka's `prepareRebalance`: waiting SyncGroups get REBALANCE_IN_PROGRESS, the sync deadline is
    /// dropped, and the join phase starts (with the initial delay when the group was Empty).
    pub(super) fn prepare_rebalance(&mut self, cause: RebalanceCause, now_ms: i64, fx: &mut Vec<Effect>) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.iter_mut() {
                member.assignment = Bytes::new();
            }
            self.propagate_assignment(ErrorCode::RebalanceInProgress, now_ms, fx);
        }
        self.sync_deadline_ms = None;
        for member in self.members.iter_mut() {
            member.sync_expected = false;
        }
        let rebalance_timeout = self.rebalance_timeout_ms();
        let (deadline_ms, initial_delay) = if self.state == GroupState::Empty {
            let delay_ms = i64::from(self.config.initial_rebalance_delay_ms);
            let remaining_ms = (rebalance_timeout - delay_ms).max(0);
            (now_ms + delay_ms, Some(InitialDelay { delay_ms, remaining_ms, new_member_added: false }))
        } else {
            (now_ms + rebalance_timeout, None)
        };
        tracing::info!(group_id = %self.group_id, generation_id = self.generation_id, from = %self.state,
            %cause, "preparing to rebalance group");
        self.transition(GroupState::PreparingRebalance);
        self.join_phase =
            Some(JoinPhase { cause, started_ms: now_ms, deadline_ms, initial_delay, removed: Vec::new() });
    }

    /// Kafka's `onCompleteJoin`: drops dynamic members that did not rejoin, then (if anyone rejoined)
    /// starts the next generation, answers every waiting JoinGroup and starts the sync phase.
    pub(super) fn complete_join(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        let Some(mut phase) = self.join_phase.take() else { return };
        let missing: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.awaiting_join && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in missing {
            self.remove_member(&member_id);
            phase.removed.push(member_id);
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Nobody rejoined (only static members are left): wait another rebalance timeout for them
            // to rejoin or for their sessions to expire.
            tracing::warn!(group_id = %self.group_id, "could not complete rebalance: no member rejoined");
            phase.deadline_ms = now_ms + self.rebalance_timeout_ms().max(1);
            phase.initial_delay = None;
            self.join_phase = Some(phase);
            return;
        }
        self.generation_id += 1;
        self.history.record(RebalanceRecord {
            generation_id: self.generation_id,
            cause: phase.cause,
            started_ms: phase.started_ms,
            completed_ms: now_ms,
            member_count: self.members.len(),
            removed_on_timeout: phase.removed,
        });
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(GroupState::Empty);
            tracing::info!(group_id = %self.group_id, generation_id = self.generation_id, "group is now empty");
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition(GroupState::CompletingRebalance);
        tracing::info!(group_id = %self.group_id, generation_id = self.generation_id,
            members = self.members.len(), protocol = ?self.protocol_name, "stabilized group");
        let roster = self.roster();
        let ids: Vec<String> = self.members.iter().map(|m| m.member_id.clone()).collect();
        for id in ids {
            let members = if self.is_leader(&id) { roster.clone() } else { Vec::new() };
            let response = self.join_response(&id, members);
            self.answer_join(&id, response, fx);
            if let Some(member) = self.members.get_mut(&id) {
                member.last_heartbeat_ms = now_ms;
                member.is_new = false;
                member.sync_expected = true;
            }
        }
        self.sync_deadline_ms = Some(now_ms + self.rebalance_timeout_ms());
    }

    /// Kafka's `maybeElectNewJoinedLeader`: keeps a leader that rejoined, else picks the
    /// earliest-joined member that rejoined; false when nobody rejoined.
    fn elect_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.as_deref() else { return false };
        if self.members.get(leader).is_some_and(|m| m.awaiting_join) {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join) {
            Some(member) => {
                self.leader = Some(member.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// Sends every waiting SyncGroup its member's assignment (or `error`) and refreshes the sessions of
    /// those members (Kafka's `propagateAssignment`).
    pub(super) fn propagate_assignment(&mut self, error: ErrorCode, now_ms: i64, fx: &mut Vec<Effect>) {
        let (protocol_type, protocol_name) = if error == ErrorCode::None {
            (self.protocol_type.clone(), self.protocol_name.clone())
        } else {
            (None, None)
        };
        for member in self.members.iter_mut().filter(|m| m.awaiting_sync) {
            member.awaiting_sync = false;
            member.last_heartbeat_ms = now_ms;
            fx.push(Effect::SyncGroup {
                member_id: member.member_id.clone(),
                response: SyncGroupResponse {
                    error,
                    protocol_type: protocol_type.clone(),
                    protocol_name: protocol_name.clone(),
                    assignment: member.assignment.clone(),
                },
            });
        }
    }

    /// Sets the leader's assignments (missing members get an empty one), answers waiting SyncGroups
    /// and makes the group Stable.
    pub(super) fn set_and_propagate_assignment(
        &mut self,
        assignments: HashMap<String, Bytes>,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let mut assignments = assignments;
        for member in self.members.iter_mut() {
            member.assignment = assignments.remove(&member.member_id).unwrap_or_default();
        }
        self.propagate_assignment(ErrorCode::None, now_ms, fx);
        self.transition(GroupState::Stable);
    }

    /// Removes a member whose session expired or that left: its waiting requests get
    /// UNKNOWN_MEMBER_ID, and the group rebalances (Kafka's `removeMemberAndUpdateGroup`).
    pub(super) fn remove_member_and_update(
        &mut self,
        member_id: &str,
        cause: RebalanceCause,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        self.answer_join(member_id, JoinGroupResponse::error("", ErrorCode::UnknownMemberId), fx);
        self.answer_sync(member_id, SyncGroupResponse::error(ErrorCode::UnknownMemberId), fx);
        self.remove_member(member_id);
        if matches!(self.state, GroupState::Stable | GroupState::CompletingRebalance) {
            self.maybe_prepare_rebalance(cause, now_ms, fx);
        }
    }

    /// Removes a member (or pending member id) without answering it (Kafka's `GroupMetadata.remove`);
    /// a removed leader is replaced by the earliest-joined member.
    pub(super) fn remove_member(&mut self, member_id: &str) {
        self.members.remove(member_id);
        self.pending_members.remove(member_id);
        if self.is_leader(member_id) {
            self.leader = self.members.iter().next().map(|m| m.member_id.clone());
        }
    }

    /// Whether the join phase can complete now: every member and pending member rejoined, and no
    /// initial delay holds it back (Kafka's `hasAllMembersJoined`).
    pub(super) fn join_ready(&self) -> bool {
        self.state == GroupState::PreparingRebalance
            && self.join_phase.as_ref().is_some_and(|p| p.initial_delay.is_none())
            && self.pending_members.is_empty()
            && self.members.iter().all(|m| m.awaiting_join)
    }
}
