//! LeaveGroup (API 13): members leave by member id, static members also by instance id alone
//! (Kafka's `handleLeaveGroup`).

use super::history::RebalanceCause;
use super::messages::{Answer, Effect, LeaveGroupResponse, LeavingMember, MemberLeaveResult};
use super::state::{Group, GroupState};
use crate::error_code::ErrorCode;

impl Group {
    /// Removes `members` at `now_ms` (v0–2 pass their one member id as a one-element list). Each
    /// removal rebalances the group, or empties it when no member is left; waiting requests of a
    /// removed member get UNKNOWN_MEMBER_ID.
    pub fn leave_group(&mut self, members: Vec<LeavingMember>, now_ms: i64) -> Answer<LeaveGroupResponse> {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        if self.state == GroupState::Dead {
            let response =
                LeaveGroupResponse { error: ErrorCode::CoordinatorNotAvailable, members: Vec::new() };
            return Answer { response, effects };
        }
        let results = members
            .into_iter()
            .map(|leaving| {
                let error = self.leave(&leaving, now_ms, &mut effects);
                MemberLeaveResult {
                    member_id: leaving.member_id,
                    group_instance_id: leaving.group_instance_id,
                    error,
                }
            })
            .collect();
        self.settle(now_ms, &mut effects);
        Answer { response: LeaveGroupResponse { error: ErrorCode::None, members: results }, effects }
    }

    fn leave(&mut self, leaving: &LeavingMember, now_ms: i64, fx: &mut Vec<Effect>) -> ErrorCode {
        let member_id = if leaving.member_id.is_empty() {
            // Administrative removal of a static member by its instance id.
            match leaving.group_instance_id.as_deref().and_then(|i| self.static_member(i)) {
                Some(member_id) => member_id.to_owned(),
                None => return ErrorCode::UnknownMemberId,
            }
        } else if self.pending_members.remove(&leaving.member_id).is_some() {
            return ErrorCode::None;
        } else {
            if let Err(error) =
                self.validate_current_member(&leaving.member_id, leaving.group_instance_id.as_deref())
            {
                return error;
            }
            leaving.member_id.clone()
        };
        tracing::info!(group_id = %self.group_id, %member_id, reason = leaving.reason.as_deref().unwrap_or(""),
            "member left the group");
        let cause = RebalanceCause::MemberLeft { member_id: member_id.clone() };
        self.remove_member_and_update(&member_id, cause, now_ms, fx);
        ErrorCode::None
    }
}
