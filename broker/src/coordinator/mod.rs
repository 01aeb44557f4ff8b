//! Group coordination on the broker: which broker coordinates a group ([`placement`]), the groups'
//! membership ([`groups`], driving [`crate::group`]) and offset commits batched into controller writes
//! ([`offsets`]). Committed offsets live in the controller
//! quorum's metadata image, so they survive the loss of any broker and of the controller leader.

mod consumer_protocol;
pub mod groups;
pub mod offsets;
pub mod placement;

use crate::error_code::ErrorCode;
use crate::state::BrokerState;

/// NOT_COORDINATOR unless this broker coordinates `group` (COORDINATOR_NOT_AVAILABLE while no broker
/// is live).
pub fn check_coordinator(state: &BrokerState, group: &str) -> Result<(), ErrorCode> {
    use crate::group::gate::CoordinatorStatus;
    match groups::GroupCoordinator::status(state, group) {
        CoordinatorStatus::Active => Ok(()),
        CoordinatorStatus::NotCoordinator => Err(ErrorCode::NotCoordinator),
        CoordinatorStatus::Inactive | CoordinatorStatus::Loading => Err(ErrorCode::CoordinatorNotAvailable),
    }
}

/// Checks that this broker coordinates the group and that the member and generation an OffsetCommit
/// names match its membership ([`groups::GroupCoordinator::validate_commit`]): a standalone consumer
/// (generation -1, no member) commits while the group has no active members.
pub fn validate_commit(
    state: &BrokerState,
    group: &str,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<(), ErrorCode> {
    match state.groups.validate_commit(state, group, generation, member_id, instance_id) {
        ErrorCode::None => Ok(()),
        code => Err(code),
    }
}
