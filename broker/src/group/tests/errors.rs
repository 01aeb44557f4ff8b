//! Every error code of the group APIs, each from its trigger.

use super::gate::{
    CoordinatorStatus, Gate, GroupApi, check, commit_without_group, leave_without_group, missing_group_error,
};
use super::*;

fn sync_request(member_id: &str, generation_id: i32) -> SyncGroupRequest {
    SyncGroupRequest {
        generation_id,
        member_id: member_id.to_owned(),
        group_instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: Vec::new(),
    }
}

#[test]
fn invalid_session_timeout() {
    let mut h = Harness::new();
    for session_timeout_ms in [5_999, 1_800_001] {
        let response = now(&h.join(JoinGroupRequest { session_timeout_ms, ..request("a", "") }, 0));
        assert_eq!(response.error, ErrorCode::InvalidSessionTimeout);
    }
    let config = GroupConfig { min_session_timeout_ms: 1_000, ..GroupConfig::default() };
    let mut h = Harness::with_config(config);
    let response = now(&h.join(JoinGroupRequest { session_timeout_ms: 1_000, ..request("a", "") }, 0));
    assert_eq!(response.error, ErrorCode::MemberIdRequired);
}

#[test]
fn inconsistent_group_protocol() {
    let mut h = Harness::new();
    let no_type = JoinGroupRequest { protocol_type: String::new(), ..request("a", "") };
    assert_eq!(now(&h.join(no_type, 0)).error, ErrorCode::InconsistentGroupProtocol);
    let no_protocols = JoinGroupRequest { protocols: Vec::new(), ..request("a", "") };
    assert_eq!(now(&h.join(no_protocols, 0)).error, ErrorCode::InconsistentGroupProtocol);
    let (ids, t) = h.stable(&["a"], 0);
    let connect = JoinGroupRequest { protocol_type: "connect".into(), ..request("b", "") };
    assert_eq!(now(&h.join(connect, t)).error, ErrorCode::InconsistentGroupProtocol);
    let wrong_name =
        SyncGroupRequest { protocol_name: Some("roundrobin".into()), ..sync_request(&ids[0], 1) };
    assert_eq!(now(&h.group.sync_group(wrong_name, t)).error, ErrorCode::InconsistentGroupProtocol);
    let wrong_type = SyncGroupRequest { protocol_type: Some("connect".into()), ..sync_request(&ids[0], 1) };
    assert_eq!(now(&h.group.sync_group(wrong_type, t)).error, ErrorCode::InconsistentGroupProtocol);
}

#[test]
fn group_max_size_reached() {
    let mut h = Harness::with_config(GroupConfig { max_size: 2, ..GroupConfig::default() });
    let _ = h.join_new(request("a", ""), 0);
    let _ = h.join_new(request("b", ""), 0);
    // While rebalancing, the members that rejoined count.
    let response = now(&h.join(request("c", ""), 10));
    assert_eq!((response.error, response.member_id.as_str()), (ErrorCode::GroupMaxSizeReached, ""));
    let (t, _) = h.complete_join_phase();
    // Afterwards, the group's size does; known members are still accepted.
    assert_eq!(now(&h.join(request("c", ""), t)).error, ErrorCode::GroupMaxSizeReached);
    assert_eq!(now(&h.join(request("a", "a-1"), t)).generation_id, 1);
}

#[test]
fn unknown_member_id() {
    let mut h = Harness::new();
    let (ids, t) = h.stable(&["a"], 0);
    assert_eq!(now(&h.join(request("x", "x-99"), t)).error, ErrorCode::UnknownMemberId);
    assert_eq!(now(&h.group.sync_group(sync_request("x-99", 1), t)).error, ErrorCode::UnknownMemberId);
    assert_eq!(h.heartbeat("x-99", 1, t), ErrorCode::UnknownMemberId);
    let left = h.group.leave_group(vec![leaving("x-99")], t).response;
    assert_eq!((left.error, left.members[0].error), (ErrorCode::None, ErrorCode::UnknownMemberId));
    // A static instance id the group does not know.
    let unknown_instance =
        HeartbeatRequest { group_instance_id: Some("i-x".into()), ..heartbeat_request(&ids[0], 1) };
    assert_eq!(h.group.heartbeat(unknown_instance, t).response, ErrorCode::UnknownMemberId);
    // Members commit only with a member id (a standalone commit needs an Empty group).
    assert_eq!(h.group.validate_offset_commit(-1, "", None, false, t).response, ErrorCode::UnknownMemberId);
    assert_eq!(h.group.validate_offset_commit(-1, "", None, true, t).response, ErrorCode::None);
    assert_eq!(h.group.validate_offset_commit(1, &ids[0], None, false, t).response, ErrorCode::None);
    // No group at all.
    assert_eq!(missing_group_error(GroupApi::Heartbeat), ErrorCode::UnknownMemberId);
    assert_eq!(leave_without_group(vec![leaving("m")]).members[0].error, ErrorCode::UnknownMemberId);
    assert!(request("a", "").creates_group() && !request("a", "a-1").creates_group());
}

#[test]
fn fenced_instance_id() {
    let mut h = Harness::new();
    let a = pending(&h.join(static_request("a", ""), 0)).to_owned();
    let (t, _) = h.complete_join_phase();
    now(&h.sync(&a, 1, &[(&a, "x")], t));
    let new_a = now(&h.join(static_request("a", ""), t + 1)).member_id;
    assert_ne!(new_a, a);
    let stale = HeartbeatRequest { group_instance_id: Some("i-a".into()), ..heartbeat_request(&a, 1) };
    assert_eq!(h.group.heartbeat(stale, t + 2).response, ErrorCode::FencedInstanceId);
    assert_eq!(now(&h.join(static_request("a", &a), t + 2)).error, ErrorCode::FencedInstanceId);
}

#[test]
fn illegal_generation() {
    let mut h = Harness::new();
    let (ids, t) = h.stable(&["a"], 0);
    assert_eq!(h.heartbeat(&ids[0], 0, t), ErrorCode::IllegalGeneration);
    assert_eq!(now(&h.group.sync_group(sync_request(&ids[0], 2), t)).error, ErrorCode::IllegalGeneration);
    assert_eq!(
        h.group.validate_offset_commit(5, &ids[0], None, false, t).response,
        ErrorCode::IllegalGeneration
    );
    assert_eq!(commit_without_group(3), ErrorCode::IllegalGeneration);
    assert_eq!(commit_without_group(-1), ErrorCode::None);
}

#[test]
fn rebalance_in_progress() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    assert_eq!(h.heartbeat(&a, 0, 1), ErrorCode::RebalanceInProgress);
    assert_eq!(now(&h.group.sync_group(sync_request(&a, 0), 1)).error, ErrorCode::RebalanceInProgress);
    let (t, _) = h.complete_join_phase();
    // Awaiting the leader's assignment: commits are refused, heartbeats are fine.
    assert_eq!(
        h.group.validate_offset_commit(1, &b, None, false, t).response,
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(h.heartbeat(&b, 1, t), ErrorCode::None);
    assert_eq!(
        check(GroupApi::SyncGroup, "g", CoordinatorStatus::Loading),
        Gate::Answer(ErrorCode::RebalanceInProgress)
    );
}

#[test]
fn member_id_required() {
    let mut h = Harness::new();
    let response = now(&h.join(request("a", ""), 0));
    assert_eq!((response.error, response.member_id.as_str()), (ErrorCode::MemberIdRequired, "a-1"));
}

#[test]
fn dead_groups_answer_coordinator_not_available() {
    let mut h = Harness::new();
    let (ids, t) = h.stable(&["a"], 0);
    assert_eq!(h.group.delete(), Err(ErrorCode::NonEmptyGroup));
    let _ = h.group.leave_group(vec![leaving(&ids[0])], t);
    assert_eq!(h.group.state(), GroupState::Empty);
    assert_eq!(h.group.delete(), Ok(()));
    assert_eq!(h.group.state(), GroupState::Dead);
    assert_eq!(h.group.delete(), Err(ErrorCode::GroupIdNotFound));
    assert_eq!(now(&h.join(request("b", ""), t)).error, ErrorCode::CoordinatorNotAvailable);
    assert_eq!(now(&h.join(request("a", &ids[0]), t)).error, ErrorCode::CoordinatorNotAvailable);
    assert_eq!(
        now(&h.group.sync_group(sync_request(&ids[0], 2), t)).error,
        ErrorCode::CoordinatorNotAvailable
    );
    assert_eq!(h.heartbeat(&ids[0], 2, t), ErrorCode::CoordinatorNotAvailable);
    assert_eq!(
        h.group.leave_group(vec![leaving(&ids[0])], t).response.error,
        ErrorCode::CoordinatorNotAvailable
    );
    assert_eq!(
        h.group.validate_offset_commit(2, &ids[0], None, false, t).response,
        ErrorCode::CoordinatorNotAvailable
    );
    assert_eq!(h.group.next_deadline_ms(), None);
}

#[test]
fn unloading_answers_waiting_requests_not_coordinator() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    let effects = h.group.unload();
    let joins = join_effects(&effects);
    assert_eq!(
        joins.iter().map(|(id, r)| (*id, r.error)).collect::<Vec<_>>(),
        [(a.as_str(), ErrorCode::NotCoordinator), (b.as_str(), ErrorCode::NotCoordinator)]
    );
    assert_eq!(h.group.state(), GroupState::Dead);
}

#[test]
fn gate_checks_group_id_and_coordinator_status() {
    use CoordinatorStatus::{Active, Inactive, Loading, NotCoordinator};
    assert_eq!(check(GroupApi::JoinGroup, "", Active), Gate::Answer(ErrorCode::InvalidGroupId));
    assert_eq!(check(GroupApi::Heartbeat, "", Active), Gate::Answer(ErrorCode::InvalidGroupId));
    assert_eq!(check(GroupApi::OffsetFetch, "", Active), Gate::Proceed);
    assert_eq!(check(GroupApi::JoinGroup, "g", Active), Gate::Proceed);
    assert_eq!(check(GroupApi::JoinGroup, "g", Inactive), Gate::Answer(ErrorCode::CoordinatorNotAvailable));
    assert_eq!(check(GroupApi::JoinGroup, "g", NotCoordinator), Gate::Answer(ErrorCode::NotCoordinator));
    assert_eq!(check(GroupApi::JoinGroup, "g", Loading), Gate::Answer(ErrorCode::CoordinatorLoadInProgress));
    assert_eq!(check(GroupApi::Heartbeat, "g", Loading), Gate::Answer(ErrorCode::None));
    assert_eq!(missing_group_error(GroupApi::DeleteGroups), ErrorCode::GroupIdNotFound);
    assert_eq!(missing_group_error(GroupApi::DescribeGroups), ErrorCode::GroupIdNotFound);
}

#[test]
fn new_error_codes_have_kafkas_numbers() {
    let codes = [
        (ErrorCode::CoordinatorLoadInProgress, 14),
        (ErrorCode::CoordinatorNotAvailable, 15),
        (ErrorCode::NotCoordinator, 16),
        (ErrorCode::IllegalGeneration, 22),
        (ErrorCode::InconsistentGroupProtocol, 23),
        (ErrorCode::InvalidGroupId, 24),
        (ErrorCode::UnknownMemberId, 25),
        (ErrorCode::InvalidSessionTimeout, 26),
        (ErrorCode::RebalanceInProgress, 27),
        (ErrorCode::NonEmptyGroup, 68),
        (ErrorCode::GroupIdNotFound, 69),
        (ErrorCode::MemberIdRequired, 79),
        (ErrorCode::GroupMaxSizeReached, 81),
        (ErrorCode::FencedInstanceId, 82),
        (ErrorCode::UnstableOffsetCommit, 88),
    ];
    for (code, wire) in codes {
        assert_eq!(code.code(), wire);
        assert_eq!(ErrorCode::from_code(wire), Some(code));
    }
}
