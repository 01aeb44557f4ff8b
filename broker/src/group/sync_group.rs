//! SyncGroup (API 14): followers wait for the leader's assignments, which make the group Stable
//! (Kafka's `handleSyncGroup`). Assignments are kept in memory only: there is no group metadata log
//! to write before answering.

use std::collections::HashMap;

use super::messages::{Effect, Outcome, SyncGroupRequest, SyncGroupResponse};
use super::state::{Group, GroupState, Step, resolve};
use crate::error_code::ErrorCode;

impl Group {
    /// Handles a SyncGroup at `now_ms`. While the group awaits the leader's assignments every caller
    /// waits; the leader's SyncGroup answers all of them at once (itself included). In a Stable group
    /// the member gets its assignment immediately.
    pub fn sync_group(&mut self, request: SyncGroupRequest, now_ms: i64) -> Outcome<SyncGroupResponse> {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        let step = self.sync(request, now_ms, &mut effects);
        self.settle(now_ms, &mut effects);
        resolve(step, effects, take_sync)
    }

    fn sync(
        &mut self,
        request: SyncGroupRequest,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) -> Step<SyncGroupResponse> {
        if let Err(error) = self.validate_sync(&request) {
            return Step::Respond(SyncGroupResponse::error(error));
        }
        let member_id = request.member_id;
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                Step::Respond(SyncGroupResponse::error(ErrorCode::UnknownMemberId))
            }
            GroupState::PreparingRebalance => {
                Step::Respond(SyncGroupResponse::error(ErrorCode::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(&member_id) {
                    member.awaiting_sync = true;
                    member.sync_expected = false;
                }
                if self.is_leader(&member_id) {
                    tracing::info!(group_id = %self.group_id, generation_id = self.generation_id,
                        %member_id, "assignment received from leader");
                    let assignments: HashMap<_, _> =
                        request.assignments.into_iter().map(|a| (a.member_id, a.assignment)).collect();
                    self.set_and_propagate_assignment(assignments, now_ms, fx);
                }
                Step::Wait(member_id)
            }
            GroupState::Stable => {
                let Some(member) = self.members.get_mut(&member_id) else {
                    return Step::Respond(SyncGroupResponse::error(ErrorCode::UnknownMemberId));
                };
                member.sync_expected = false;
                member.last_heartbeat_ms = now_ms;
                let assignment = member.assignment.clone();
                Step::Respond(SyncGroupResponse {
                    error: ErrorCode::None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                })
            }
        }
    }

    /// Kafka's `validateSyncGroup`.
    fn validate_sync(&self, request: &SyncGroupRequest) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        self.validate_current_member(&request.member_id, request.group_instance_id.as_deref())?;
        if request.generation_id != self.generation_id {
            return Err(ErrorCode::IllegalGeneration);
        }
        let differs = |asked: &Option<String>, ours: &Option<String>| asked.is_some() && asked != ours;
        if differs(&request.protocol_type, &self.protocol_type)
            || differs(&request.protocol_name, &self.protocol_name)
        {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        Ok(())
    }
}

fn take_sync(effects: &mut Vec<Effect>, member_id: &str) -> Option<SyncGroupResponse> {
    let index = effects
        .iter()
        .position(|e| matches!(e, Effect::SyncGroup { member_id: id, .. } if id == member_id))?;
    match effects.remove(index) {
        Effect::SyncGroup { response, .. } => Some(response),
        Effect::JoinGroup { .. } => None,
    }
}
