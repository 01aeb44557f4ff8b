//! Heartbeat (API 12) and the membership check of OffsetCommit: both refresh the member's session
//! (Kafka's `handleHeartbeat` and `validateOffsetCommit`).

use super::messages::{Answer, HeartbeatRequest};
use super::state::{Group, GroupState};
use crate::error_code::ErrorCode;

impl Group {
    /// Handles a Heartbeat at `now_ms`: NONE, or REBALANCE_IN_PROGRESS while the group waits for
    /// members to rejoin (the client then rejoins); UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID or
    /// ILLEGAL_GENERATION for a member that is not (or no longer) in this generation.
    pub fn heartbeat(&mut self, request: HeartbeatRequest, now_ms: i64) -> Answer<ErrorCode> {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        let response = self.heartbeat_error(&request, now_ms);
        self.settle(now_ms, &mut effects);
        Answer { response, effects }
    }

    fn heartbeat_error(&mut self, request: &HeartbeatRequest, now_ms: i64) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if let Err(error) =
            self.validate_current_member(&request.member_id, request.group_instance_id.as_deref())
        {
            return error;
        }
        if request.generation_id != self.generation_id {
            return ErrorCode::IllegalGeneration;
        }
        let error = match self.state {
            GroupState::Empty | GroupState::Dead => return ErrorCode::UnknownMemberId,
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::None,
        };
        if let Some(member) = self.members.get_mut(&request.member_id) {
            member.last_heartbeat_ms = now_ms;
        }
        error
    }

    /// Whether an OffsetCommit (or TxnOffsetCommit, `transactional`) from this member and generation
    /// may commit: NONE to go ahead (the member's session is refreshed), else the error for every
    /// partition. A commit without member id and generation (-1) is a standalone consumer's, allowed
    /// only while the group is Empty (always for transactional commits); members' plain commits get
    /// REBALANCE_IN_PROGRESS while the group awaits the leader's assignment.
    pub fn validate_offset_commit(
        &mut self,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        transactional: bool,
        now_ms: i64,
    ) -> Answer<ErrorCode> {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        let response =
            self.offset_commit_error(generation_id, member_id, group_instance_id, transactional, now_ms);
        self.settle(now_ms, &mut effects);
        Answer { response, effects }
    }

    fn offset_commit_error(
        &mut self,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        transactional: bool,
        now_ms: i64,
    ) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if generation_id < 0 && member_id.is_empty() && group_instance_id.is_none() {
            return if transactional || self.state == GroupState::Empty {
                ErrorCode::None
            } else {
                ErrorCode::UnknownMemberId
            };
        }
        if let Err(error) = self.validate_current_member(member_id, group_instance_id) {
            return error;
        }
        if generation_id != self.generation_id {
            return ErrorCode::IllegalGeneration;
        }
        if !transactional && self.state == GroupState::CompletingRebalance {
            return ErrorCode::RebalanceInProgress;
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.last_heartbeat_ms = now_ms;
        }
        ErrorCode::None
    }
}
