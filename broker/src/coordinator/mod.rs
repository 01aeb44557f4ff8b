//! Group coordination on the broker: which broker coordinates a group ([`placement`]) and offset
//! commits batched into controller writes ([`offsets`]). Committed offsets live in the controller
//! quorum's metadata image, so they survive the loss of any broker and of the controller leader.

pub mod offsets;
pub mod placement;

use crate::error_code::ErrorCode;
use crate::state::BrokerState;

/// NOT_COORDINATOR unless this broker coordinates `group` (COORDINATOR_NOT_AVAILABLE while no broker
/// is live).
pub fn check_coordinator(state: &BrokerState, group: &str) -> Result<(), ErrorCode> {
    match placement::coordinator(&state.image(), group) {
        Some(node) if node == state.config.node_id => Ok(()),
        Some(_) => Err(ErrorCode::NotCoordinator),
        None => Err(ErrorCode::CoordinatorNotAvailable),
    }
}

/// Checks the member and generation an OffsetCommit names against the group's membership. Group
/// membership (JoinGroup) is not served yet, so only standalone consumers commit: generation -1 and no
/// member id; anything else names a member this coordinator does not know (UNKNOWN_MEMBER_ID).
pub fn validate_commit(
    _state: &BrokerState,
    _group: &str,
    generation: i32,
    member_id: &str,
    _instance_id: Option<&str>,
) -> Result<(), ErrorCode> {
    if generation < 0 && member_id.is_empty() { Ok(()) } else { Err(ErrorCode::UnknownMemberId) }
}
