//! Checks before a request reaches a [`super::Group`] (Kafka's `validateGroupStatus`), and the
//! answers for a group id that has no group.

use super::messages::{LeaveGroupResponse, LeavingMember, MemberLeaveResult};
use crate::error_code::ErrorCode;

/// The group APIs, where their checks differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupApi {
    /// JoinGroup (11).
    JoinGroup,
    /// SyncGroup (14).
    SyncGroup,
    /// Heartbeat (12).
    Heartbeat,
    /// LeaveGroup (13).
    LeaveGroup,
    /// OffsetCommit (8) and TxnOffsetCommit (28).
    OffsetCommit,
    /// OffsetFetch (9).
    OffsetFetch,
    /// DescribeGroups (15).
    DescribeGroups,
    /// DeleteGroups (42).
    DeleteGroups,
}

/// This broker's standing for the group, as the coordinator knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorStatus {
    /// This broker coordinates the group and its state is ready.
    Active,
    /// The coordinator is not running (starting up, shutting down, no live broker).
    Inactive,
    /// This broker coordinates the group but is still loading its state.
    Loading,
    /// Another broker coordinates the group.
    NotCoordinator,
}

/// What to do with a request before the group is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go on to the group.
    Proceed,
    /// Answer with this error code (NONE included: a heartbeat during loading is acknowledged blindly).
    Answer(ErrorCode),
}

/// Kafka's `validateGroupStatus` plus its per-API adjustments: INVALID_GROUP_ID for an empty group id
/// (allowed by the offset and admin APIs), COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS
/// (a Heartbeat gets NONE and a SyncGroup REBALANCE_IN_PROGRESS instead, which old clients handle),
/// NOT_COORDINATOR.
pub fn check(api: GroupApi, group_id: &str, status: CoordinatorStatus) -> Gate {
    let empty_allowed = matches!(
        api,
        GroupApi::OffsetCommit | GroupApi::OffsetFetch | GroupApi::DescribeGroups | GroupApi::DeleteGroups
    );
    if group_id.is_empty() && !empty_allowed {
        return Gate::Answer(ErrorCode::InvalidGroupId);
    }
    match (status, api) {
        (CoordinatorStatus::Active, _) => Gate::Proceed,
        (CoordinatorStatus::Inactive, _) => Gate::Answer(ErrorCode::CoordinatorNotAvailable),
        (CoordinatorStatus::Loading, GroupApi::Heartbeat) => Gate::Answer(ErrorCode::None),
        (CoordinatorStatus::Loading, GroupApi::SyncGroup) => Gate::Answer(ErrorCode::RebalanceInProgress),
        (CoordinatorStatus::Loading, _) => Gate::Answer(ErrorCode::CoordinatorLoadInProgress),
        (CoordinatorStatus::NotCoordinator, _) => Gate::Answer(ErrorCode::NotCoordinator),
    }
}

/// The error for a request naming a group id that has no group: UNKNOWN_MEMBER_ID for the membership
/// APIs (a JoinGroup with an empty member id creates the group instead, see
/// [`super::JoinGroupRequest::creates_group`]), GROUP_ID_NOT_FOUND for DeleteGroups and DescribeGroups
/// v6+ (v0–5 describe it as [`super::GroupSummary::dead`]), NONE for OffsetFetch (no offsets), and for
/// OffsetCommit see [`commit_without_group`].
pub fn missing_group_error(api: GroupApi) -> ErrorCode {
    match api {
        GroupApi::JoinGroup | GroupApi::SyncGroup | GroupApi::Heartbeat | GroupApi::LeaveGroup => {
            ErrorCode::UnknownMemberId
        }
        GroupApi::DescribeGroups | GroupApi::DeleteGroups => ErrorCode::GroupIdNotFound,
        GroupApi::OffsetCommit | GroupApi::OffsetFetch => ErrorCode::None,
    }
}

/// An OffsetCommit for a group id with no group: a standalone consumer (generation below 0) commits
/// (the coordinator may create an Empty group for it); anything else names a generation that does
/// not exist (ILLEGAL_GENERATION).
pub fn commit_without_group(generation_id: i32) -> ErrorCode {
    if generation_id < 0 { ErrorCode::None } else { ErrorCode::IllegalGeneration }
}

/// A LeaveGroup for a group id with no group: every member is unknown.
pub fn leave_without_group(members: Vec<LeavingMember>) -> LeaveGroupResponse {
    let members = members
        .into_iter()
        .map(|m| MemberLeaveResult {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
            error: ErrorCode::UnknownMemberId,
        })
        .collect();
    LeaveGroupResponse { error: ErrorCode::None, members }
}
