//! JoinGroup (API 11): Kafka's `handleJoinGroup` with its new-member, static-member and
//! existing-member paths.

use super::history::RebalanceCause;
use super::member::Member;
use super::messages::{Effect, JoinGroupRequest, JoinGroupResponse, Outcome, SyncGroupResponse};
use super::state::{Group, GroupState, Step, resolve};
use crate::error_code::ErrorCode;

impl Group {
    /// Handles a JoinGroup at `now_ms`. `fresh_id` returns a string unique per call (a UUID, say);
    /// a new member's id is `{group_instance_id or client_id}-{fresh_id}`, as in Kafka.
    ///
    /// The reply is immediate for errors, MEMBER_ID_REQUIRED, a follower rejoining a Stable group
    /// unchanged and a static member restarting without changes; otherwise the member waits for the
    /// join phase to complete (which may be this very call, when it was the last member missing).
    pub fn join_group(
        &mut self,
        request: JoinGroupRequest,
        now_ms: i64,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Outcome<JoinGroupResponse> {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        let step = self.join(request, now_ms, fresh_id, &mut effects);
        self.settle(now_ms, &mut effects);
        resolve(step, effects, take_join)
    }

    fn join(
        &mut self,
        request: JoinGroupRequest,
        now_ms: i64,
        fresh_id: &mut dyn FnMut() -> String,
        fx: &mut Vec<Effect>,
    ) -> Step<JoinGroupResponse> {
        if request.session_timeout_ms < self.config.min_session_timeout_ms
            || request.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return Step::Respond(JoinGroupResponse::error(
                request.member_id,
                ErrorCode::InvalidSessionTimeout,
            ));
        }
        if !self.accepts_joining_member(&request.member_id) {
            // An existing member that has not rejoined an oversized group is dropped, as in Kafka.
            self.remove_member(&request.member_id);
            return Step::Respond(JoinGroupResponse::error("", ErrorCode::GroupMaxSizeReached));
        }
        if request.member_id.is_empty() {
            self.join_new_member(request, now_ms, fresh_id, fx)
        } else {
            self.join_existing_member(request, now_ms, fx)
        }
    }

    /// Kafka's `acceptJoiningMember`: while rebalancing, the members already rejoined count against
    /// `group.max.size`; otherwise the group's size does. Known members are always accepted.
    fn accepts_joining_member(&self, member_id: &str) -> bool {
        let max_size = usize::try_from(self.config.max_size).unwrap_or(0);
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.member(member_id).is_some_and(|m| m.awaiting_join)
                    || self.members().filter(|m| m.awaiting_join).count() < max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.member(member_id).is_some() || self.member_count() < max_size
            }
        }
    }

    fn join_new_member(
        &mut self,
        request: JoinGroupRequest,
        now_ms: i64,
        fresh_id: &mut dyn FnMut() -> String,
        fx: &mut Vec<Effect>,
    ) -> Step<JoinGroupResponse> {
        if self.state == GroupState::Dead {
            return Step::Respond(JoinGroupResponse::error("", ErrorCode::CoordinatorNotAvailable));
        }
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            return Step::Respond(JoinGroupResponse::error("", ErrorCode::InconsistentGroupProtocol));
        }
        let prefix = request.group_instance_id.as_deref().unwrap_or(&request.client_id);
        let member_id = format!("{prefix}-{}", fresh_id());
        match &request.group_instance_id {
            Some(instance) => match self.static_member(instance).map(str::to_owned) {
                Some(old_member_id) => {
                    self.replace_static_member(&old_member_id, member_id, request, now_ms, fx)
                }
                None => self.add_member_and_rebalance(member_id, request, now_ms, fx),
            },
            None if request.api_version >= 4 => {
                // KIP-394: the member must come back with this id, so a client that retries after a
                // timeout does not leave a stray member behind.
                let expires_ms = now_ms + i64::from(request.session_timeout_ms);
                self.pending_members.insert(member_id.clone(), expires_ms);
                Step::Respond(JoinGroupResponse::error(member_id, ErrorCode::MemberIdRequired))
            }
            None => self.add_member_and_rebalance(member_id, request, now_ms, fx),
        }
    }

    fn join_existing_member(
        &mut self,
        request: JoinGroupRequest,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) -> Step<JoinGroupResponse> {
        let member_id = request.member_id.clone();
        if self.state == GroupState::Dead {
            return Step::Respond(JoinGroupResponse::error(member_id, ErrorCode::CoordinatorNotAvailable));
        }
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            return Step::Respond(JoinGroupResponse::error(member_id, ErrorCode::InconsistentGroupProtocol));
        }
        if self.is_pending_member(&member_id) && request.group_instance_id.is_none() {
            return self.add_member_and_rebalance(member_id, request, now_ms, fx);
        }
        if let Err(error) = self.validate_current_member(&member_id, request.group_instance_id.as_deref()) {
            return Step::Respond(JoinGroupResponse::error(member_id, error));
        }
        let unchanged = self.member(&member_id).is_some_and(|m| m.matches(&request.protocols));
        let is_leader = self.is_leader(&member_id);
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member(&member_id, request);
            }
            GroupState::CompletingRebalance if unchanged => {
                // The member probably missed its JoinGroup response: send it again.
                let members = if is_leader { self.roster() } else { Vec::new() };
                return Step::Respond(self.join_response(&member_id, members));
            }
            GroupState::Stable if unchanged && !is_leader => {
                // A follower with nothing new: it may SyncGroup for the current generation.
                return Step::Respond(self.join_response(&member_id, Vec::new()));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member(&member_id, request);
                let cause = if unchanged {
                    RebalanceCause::LeaderRejoined { member_id: member_id.clone() }
                } else {
                    RebalanceCause::ProtocolChange { member_id: member_id.clone() }
                };
                self.maybe_prepare_rebalance(cause, now_ms, fx);
            }
            GroupState::Empty | GroupState::Dead => {
                return Step::Respond(JoinGroupResponse::error(member_id, ErrorCode::UnknownMemberId));
            }
        }
        Step::Wait(member_id)
    }

    /// A rejoining member's new protocols and timeouts; its JoinGroup now waits.
    fn update_member(&mut self, member_id: &str, request: JoinGroupRequest) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.protocols = request.protocols;
            member.rebalance_timeout_ms = request.rebalance_timeout_ms;
            member.session_timeout_ms = request.session_timeout_ms;
            member.awaiting_join = true;
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        request: JoinGroupRequest,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) -> Step<JoinGroupResponse> {
        if self.state == GroupState::PreparingRebalance
            && self.generation_id == 0
            && let Some(initial) = self.join_phase.as_mut().and_then(|p| p.initial_delay.as_mut())
        {
            initial.new_member_added = true;
        }
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member_id.clone());
        }
        self.pending_members.remove(&member_id);
        self.members.insert(Member::new(member_id.clone(), request, now_ms));
        self.maybe_prepare_rebalance(
            RebalanceCause::MemberJoined { member_id: member_id.clone() },
            now_ms,
            fx,
        );
        Step::Wait(member_id)
    }

    /// KIP-345: a static member rejoining with an empty member id takes over its instance's member
    /// (assignment included) under a new id; the old id is fenced. In a Stable group whose chosen
    /// protocol stays the same it gets the current generation back without a rebalance.
    fn replace_static_member(
        &mut self,
        old_member_id: &str,
        member_id: String,
        request: JoinGroupRequest,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) -> Step<JoinGroupResponse> {
        let previous_leader = self.leader.clone().unwrap_or_default();
        self.answer_join(
            old_member_id,
            JoinGroupResponse::error(old_member_id, ErrorCode::FencedInstanceId),
            fx,
        );
        self.answer_sync(old_member_id, SyncGroupResponse::error(ErrorCode::FencedInstanceId), fx);
        self.members.rename(old_member_id, &member_id);
        if self.is_leader(old_member_id) {
            self.leader = Some(member_id.clone());
        }
        let api_version = request.api_version;
        if let Some(member) = self.members.get_mut(&member_id) {
            member.client_id.clone_from(&request.client_id);
            member.client_host.clone_from(&request.client_host);
            member.last_heartbeat_ms = now_ms;
        }
        self.update_member(&member_id, request);
        match self.state {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                let is_leader = self.is_leader(&member_id);
                let response = if api_version >= 9 {
                    // The leader learns it leads but must not reassign a Stable group (KIP-814).
                    let members = if is_leader { self.roster() } else { Vec::new() };
                    JoinGroupResponse {
                        skip_assignment: is_leader,
                        ..self.join_response(&member_id, members)
                    }
                } else {
                    // Older clients see the old leader id, so a restarted leader acts as a follower.
                    JoinGroupResponse {
                        leader: previous_leader,
                        ..self.join_response(&member_id, Vec::new())
                    }
                };
                self.answer_join(&member_id, response, fx);
            }
            GroupState::Stable => {
                let cause = RebalanceCause::ProtocolChange { member_id: member_id.clone() };
                self.maybe_prepare_rebalance(cause, now_ms, fx);
            }
            GroupState::CompletingRebalance => {
                // The leader may be assigning to the old id: start over.
                let cause = RebalanceCause::StaticMemberRejoined { member_id: member_id.clone() };
                self.prepare_rebalance(cause, now_ms, fx);
            }
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
        Step::Wait(member_id)
    }
}

fn take_join(effects: &mut Vec<Effect>, member_id: &str) -> Option<JoinGroupResponse> {
    let index = effects
        .iter()
        .position(|e| matches!(e, Effect::JoinGroup { member_id: id, .. } if id == member_id))?;
    match effects.remove(index) {
        Effect::JoinGroup { response, .. } => Some(response),
        Effect::SyncGroup { .. } => None,
    }
}
