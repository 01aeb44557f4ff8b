//! KIP-345 static members and KIP-394 member ids.

use super::*;

/// A Stable generation-1 group of static members `a` and `b` (a leads); their member ids and the
/// time it became Stable.
fn static_group(h: &mut Harness, protocols_of: impl Fn(&str) -> Vec<Protocol>) -> (String, String, i64) {
    let join =
        |client: &str| JoinGroupRequest { protocols: protocols_of(client), ..static_request(client, "") };
    let a = pending(&h.join(join("a"), 0)).to_owned();
    let b = pending(&h.join(join("b"), 100)).to_owned();
    assert_eq!((a.as_str(), b.as_str()), ("i-a-1", "i-b-2"));
    let (t, _) = h.complete_join_phase();
    h.sync_all(&[("a", &a), ("b", &b)], t);
    (a, b, t)
}

fn range(client: &str) -> Vec<Protocol> {
    protocols(&[("range", client)])
}

#[test]
fn a_static_member_restarting_gets_its_assignment_back_without_a_rebalance() {
    let mut h = Harness::new();
    let (a, old_b, t) = static_group(&mut h, range);
    let restart = t + 5_000;
    let out = h.join(static_request("b", ""), restart);
    let response = now(&out);
    let new_b = response.member_id.clone();
    assert_ne!(new_b, old_b);
    assert_eq!(response.error, ErrorCode::None);
    assert_eq!((response.generation_id, response.leader.as_str()), (1, a.as_str()));
    assert!(response.members.is_empty() && !response.skip_assignment && out.effects.is_empty());
    assert_eq!((h.group.state(), h.group.generation_id()), (GroupState::Stable, 1));
    assert_eq!(h.group.history().total(), 1);
    assert_eq!(h.group.static_member("i-b"), Some(new_b.as_str()));

    // The old member id is fenced everywhere; the new one syncs to the same assignment.
    let fenced = HeartbeatRequest { group_instance_id: Some("i-b".into()), ..heartbeat_request(&old_b, 1) };
    assert_eq!(h.group.heartbeat(fenced, restart + 1).response, ErrorCode::FencedInstanceId);
    let commit = h.group.validate_offset_commit(1, &old_b, Some("i-b"), false, restart + 1);
    assert_eq!(commit.response, ErrorCode::FencedInstanceId);
    let sync_old = SyncGroupRequest {
        generation_id: 1,
        member_id: old_b.clone(),
        group_instance_id: Some("i-b".into()),
        protocol_type: None,
        protocol_name: None,
        assignments: Vec::new(),
    };
    assert_eq!(now(&h.group.sync_group(sync_old.clone(), restart + 1)).error, ErrorCode::FencedInstanceId);
    let rejoin_old = static_request("b", &old_b);
    assert_eq!(now(&h.join(rejoin_old, restart + 1)).error, ErrorCode::FencedInstanceId);
    let sync_new = SyncGroupRequest { member_id: new_b.clone(), ..sync_old };
    assert_eq!(now(&h.group.sync_group(sync_new, restart + 2)).assignment, bytes("assign-b"));
    assert_eq!(h.heartbeat(&new_b, 1, restart + 3), ErrorCode::None);
    let leave_old = LeavingMember { group_instance_id: Some("i-b".into()), ..leaving(&old_b) };
    let left = h.group.leave_group(vec![leave_old], restart + 4);
    assert_eq!(left.response.members[0].error, ErrorCode::FencedInstanceId);
    assert_eq!(left.response.error_for_version(2), ErrorCode::FencedInstanceId);
    assert_eq!(left.response.error_for_version(3), ErrorCode::None);
    assert_eq!(h.group.state(), GroupState::Stable);
}

#[test]
fn a_static_leader_restart_skips_assignment_from_join_group_v9() {
    let mut h = Harness::new();
    let (a, b, t) = static_group(&mut h, range);
    // v5: the old leader id comes back, so the restarted leader acts as a follower.
    let response = now(&h.join(static_request("a", ""), t + 1));
    assert_eq!((response.leader.as_str(), response.members.len()), (a.as_str(), 0));
    let new_a = response.member_id;
    assert_eq!(h.group.leader(), Some(new_a.as_str()));
    // v9: it learns it leads, with the members, but must not assign.
    let v9 = JoinGroupRequest { api_version: 9, ..static_request("a", "") };
    let response = now(&h.join(v9, t + 2));
    assert!(response.skip_assignment);
    assert_eq!(response.leader, response.member_id);
    assert_eq!(member_ids(&response.members), [response.member_id.as_str(), b.as_str()]);
    assert_eq!((h.group.state(), h.group.generation_id()), (GroupState::Stable, 1));
}

#[test]
fn a_static_member_restart_that_changes_the_chosen_protocol_rebalances() {
    let mut h = Harness::new();
    let both = |client: &str| protocols(&[("range", client), ("roundrobin", client)]);
    let (_, _, t) = static_group(&mut h, both);
    assert_eq!(h.group.protocol_name(), Some("range"));
    // Preferring roundrobin ties the vote 1:1; the earliest member's choice (range) stands.
    let prefers_rr = JoinGroupRequest {
        protocols: protocols(&[("roundrobin", "b"), ("range", "b")]),
        ..static_request("b", "")
    };
    assert_eq!(now(&h.join(prefers_rr, t + 1)).generation_id, 1);
    assert_eq!(h.group.state(), GroupState::Stable);
    // Supporting only roundrobin changes the chosen protocol: rebalance.
    let only_rr =
        JoinGroupRequest { protocols: protocols(&[("roundrobin", "b")]), ..static_request("b", "") };
    let out = h.join(only_rr, t + 2);
    let new_b = pending(&out).to_owned();
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::ProtocolChange { member_id: new_b }));
}

#[test]
fn a_static_member_restarting_during_completing_rebalance_restarts_the_rebalance() {
    let mut h = Harness::new();
    let a = pending(&h.join(static_request("a", ""), 0)).to_owned();
    let b = pending(&h.join(static_request("b", ""), 0)).to_owned();
    let (t, _) = h.complete_join_phase();
    let sync_b = SyncGroupRequest {
        generation_id: 1,
        member_id: b.clone(),
        group_instance_id: Some("i-b".into()),
        protocol_type: None,
        protocol_name: None,
        assignments: Vec::new(),
    };
    pending(&h.group.sync_group(sync_b, t));
    let out = h.join(static_request("b", ""), t + 1);
    let new_b = pending(&out).to_owned();
    // The old id's waiting SyncGroup is fenced; the rebalance starts over.
    let syncs = sync_effects(&out.effects);
    assert_eq!((syncs[0].0, syncs[0].1.error), (b.as_str(), ErrorCode::FencedInstanceId));
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::StaticMemberRejoined { member_id: new_b }));
    let out = h.join(static_request("a", &a), t + 2);
    assert_eq!(now(&out).generation_id, 2);
    assert_eq!(join_effects(&out.effects).len(), 1);
}

#[test]
fn static_members_that_do_not_rejoin_are_kept_until_their_session_expires() {
    let mut h = Harness::new();
    let (a, b, t) = static_group(&mut h, range);
    pending(&h.join(static_request("a", &a), t + 1));
    let deadline = t + 1 + i64::from(REBALANCE_MS);
    for at in [t + 9_000, t + 18_000] {
        assert_eq!(h.heartbeat(&b, 1, at), ErrorCode::RebalanceInProgress);
    }
    let tick = h.group.tick(deadline);
    // Kafka drops only dynamic members at the rebalance timeout: b stays in generation 2.
    assert_eq!(join_effects(&tick.effects)[0].1.members.len(), 2);
    assert!(h.group.member(&b).is_some());
    assert_eq!(h.group.history().last().map(|r| r.removed_on_timeout.len()), Some(0));
}

#[test]
fn member_id_required_flow() {
    let mut h = Harness::new();
    let first = now(&h.join(request("a", ""), 0));
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert_eq!((first.member_id.as_str(), first.generation_id), ("a-1", -1));
    assert!(h.group.is_pending_member("a-1"));
    assert_eq!((h.group.state(), h.group.member_count()), (GroupState::Empty, 0));
    let out = h.join(request("a", "a-1"), 10);
    assert_eq!(pending(&out), "a-1");
    assert!(!h.group.is_pending_member("a-1"));
    assert!(h.group.member("a-1").is_some());

    // JoinGroup v3 and older: the member is added at once.
    let old = JoinGroupRequest { api_version: 3, ..request("b", "") };
    assert_eq!(pending(&h.join(old, 20)), "b-2");

    // An id that was never used expires with the session timeout.
    assert_eq!(now(&h.join(request("c", ""), 30)).member_id, "c-3");
    assert!(h.group.is_pending_member("c-3"));
    let _ = h.group.tick(30 + i64::from(SESSION_MS));
    assert!(!h.group.is_pending_member("c-3"));
    assert_eq!(now(&h.join(request("c", "c-3"), 10_031)).error, ErrorCode::UnknownMemberId);
}

#[test]
fn leave_group_by_instance_id_and_of_pending_members() {
    let mut h = Harness::new();
    let (_, b, t) = static_group(&mut h, range);
    let pending_id = now(&h.join(request("c", ""), t)).member_id;
    let members = vec![
        LeavingMember {
            member_id: String::new(),
            group_instance_id: Some("i-b".into()),
            reason: Some("bye".into()),
        },
        leaving(&pending_id),
        LeavingMember { member_id: String::new(), group_instance_id: Some("i-zzz".into()), reason: None },
        leaving("nobody"),
    ];
    let left = h.group.leave_group(members, t + 1);
    let errors: Vec<ErrorCode> = left.response.members.iter().map(|m| m.error).collect();
    let (ok, unknown) = (ErrorCode::None, ErrorCode::UnknownMemberId);
    assert_eq!(errors, [ok, ok, unknown, unknown]);
    assert!(h.group.member(&b).is_none() && !h.group.is_pending_member(&pending_id));
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::MemberLeft { member_id: b }));
}
