//! Join phases, sync phases and the timeouts that drive them.

use super::*;

#[test]
fn three_members_join_with_initial_delay_and_get_their_assignments() {
    let mut h = Harness::new();
    let (a, out_a) = h.join_new(request("a", ""), 0);
    assert_eq!(pending(&out_a), a);
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::MemberJoined { member_id: a.clone() }));
    let (b, out_b) = h.join_new(request("b", ""), 100);
    let (c, out_c) = h.join_new(request("c", ""), 200);
    assert_eq!((pending(&out_b), pending(&out_c)), (b.as_str(), c.as_str()));
    assert!(out_b.effects.is_empty() && out_c.effects.is_empty());

    // group.initial.rebalance.delay.ms = 3 s; new members arrived meanwhile, so it waits 3 s more.
    assert!(h.group.tick(2_999).effects.is_empty());
    let tick = h.group.tick(3_000);
    assert!(tick.effects.is_empty());
    assert_eq!(tick.next_deadline_ms, Some(6_000));
    let tick = h.group.tick(6_000);
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    assert_eq!(h.group.generation_id(), 1);
    let joins = join_effects(&tick.effects);
    assert_eq!(joins.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [a.as_str(), b.as_str(), c.as_str()]);
    for (member_id, response) in &joins {
        assert_eq!(response.error, ErrorCode::None);
        assert_eq!((response.generation_id, response.leader.as_str()), (1, a.as_str()));
        assert_eq!(response.protocol_name.as_deref(), Some("range"));
        assert_eq!(response.member_id, *member_id);
    }
    // Only the leader gets the members and their metadata.
    let leader = joins[0].1;
    assert_eq!(member_ids(&leader.members), [a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(leader.members[2].metadata, bytes("c"));
    assert!(joins[1].1.members.is_empty() && joins[2].1.members.is_empty());

    // Followers wait for the leader's assignments.
    let out_b = h.sync(&b, 1, &[], 6_100);
    assert_eq!(pending(&out_b), b);
    pending(&h.sync(&c, 1, &[], 6_200));
    let out_a = h.sync(&a, 1, &[(&a, "pa"), (&b, "pb"), (&c, "pc")], 6_300);
    assert_eq!(now(&out_a).assignment, bytes("pa"));
    let syncs = sync_effects(&out_a.effects);
    assert_eq!(syncs.len(), 2);
    assert_eq!((syncs[0].0, syncs[0].1.assignment.clone()), (b.as_str(), bytes("pb")));
    assert_eq!((syncs[1].0, syncs[1].1.assignment.clone()), (c.as_str(), bytes("pc")));
    assert_eq!(syncs[1].1.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.group.state(), GroupState::Stable);

    let record = h.group.history().last().expect("one rebalance");
    assert_eq!(record.generation_id, 1);
    assert_eq!(record.cause, RebalanceCause::MemberJoined { member_id: a.clone() });
    assert_eq!((record.started_ms, record.completed_ms, record.member_count), (0, 6_000, 3));
}

#[test]
fn a_member_joining_during_the_initial_delay_extends_it_up_to_the_rebalance_timeout() {
    let mut h = Harness::new();
    pending(&h.join_new(JoinGroupRequest { rebalance_timeout_ms: 7_000, ..request("a", "") }, 0).1);
    for (i, at) in [1_000, 4_000, 6_500].into_iter().enumerate() {
        pending(&h.join_new(request(&format!("m{i}"), ""), at).1);
        assert!(h.group.tick(at).effects.is_empty());
        let deadline = h.group.next_deadline_ms().expect("join phase");
        let _ = h.group.tick(deadline);
    }
    // The first member's rebalance timeout (7 s) caps the delay: 3 s + 3 s + 1 s.
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    assert_eq!(h.group.history().last().map(|r| (r.completed_ms, r.member_count)), Some((7_000, 4)));
}

#[test]
fn a_leaving_member_triggers_a_rebalance_and_the_others_rejoin() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a", "b", "c"], 0);
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    let t = done_ms + 1_000;

    let left = h.group.leave_group(vec![leaving(c)], t);
    assert_eq!(left.response.error, ErrorCode::None);
    assert_eq!(left.response.members[0].error, ErrorCode::None);
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::MemberLeft { member_id: c.clone() }));
    assert_eq!(h.heartbeat(a, 1, t + 50), ErrorCode::RebalanceInProgress);

    assert_eq!(pending(&h.rejoin("a", a, t + 100)), a);
    let out_b = h.rejoin("b", b, t + 200);
    let response_b = now(&out_b);
    assert_eq!((response_b.generation_id, response_b.leader.as_str()), (2, a.as_str()));
    let joins = join_effects(&out_b.effects);
    assert_eq!(joins.len(), 1);
    assert_eq!(joins[0].0, a);
    assert_eq!(member_ids(&joins[0].1.members), [a.as_str(), b.as_str()]);
    assert_eq!(h.group.generation_id(), 2);
    let record = h.group.history().last().expect("record");
    assert_eq!((record.generation_id, record.member_count), (2, 2));
    assert_eq!(record.cause, RebalanceCause::MemberLeft { member_id: c.clone() });
    assert_eq!(h.heartbeat(c, 2, t + 300), ErrorCode::UnknownMemberId);
}

#[test]
fn the_last_member_leaving_empties_the_group() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a"], 0);
    let left = h.group.leave_group(vec![leaving(&ids[0])], done_ms + 10);
    assert!(left.effects.is_empty());
    assert_eq!(h.group.state(), GroupState::Empty);
    assert_eq!((h.group.generation_id(), h.group.protocol_name()), (2, None));
    assert_eq!(h.group.history().last().map(|r| r.member_count), Some(0));
    assert_eq!(h.group.next_deadline_ms(), None);
    // A new member starts over with the initial delay.
    pending(&h.join_new(request("b", ""), done_ms + 20).1);
    assert_eq!(h.group.next_deadline_ms(), Some(done_ms + 20 + 3_000));
}

#[test]
fn a_member_that_stops_heartbeating_is_removed_after_its_session_timeout() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a", "b", "c"], 0);
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    for t in [done_ms + 4_000, done_ms + 8_000] {
        assert_eq!(h.heartbeat(a, 1, t), ErrorCode::None);
        assert_eq!(h.heartbeat(b, 1, t), ErrorCode::None);
    }
    let expiry = done_ms + i64::from(SESSION_MS);
    assert_eq!(h.group.next_deadline_ms(), Some(expiry));
    assert!(h.group.tick(expiry - 1).effects.is_empty());
    assert_eq!(h.group.state(), GroupState::Stable);
    let tick = h.group.tick(expiry);
    assert!(tick.effects.is_empty());
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert!(h.group.member(c).is_none());
    assert_eq!(h.heartbeat(c, 1, expiry + 1), ErrorCode::UnknownMemberId);

    pending(&h.rejoin("a", a, expiry + 100));
    assert_eq!(now(&h.rejoin("b", b, expiry + 200)).generation_id, 2);
    let record = h.group.history().last().expect("record");
    assert_eq!(record.cause, RebalanceCause::SessionTimeout { member_id: c.clone() });
    assert_eq!(record.cause.to_string(), format!("session timeout of member {c}"));
    assert_eq!(h.group.history().count(RebalanceCauseKind::SessionTimeout), 1);
}

#[test]
fn a_member_not_rejoining_within_the_rebalance_timeout_is_removed() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a", "b"], 0);
    let (a, b) = (&ids[0], &ids[1]);
    let start = done_ms + 1_000;
    // The leader rejoining a Stable group starts a rebalance.
    assert_eq!(pending(&h.rejoin("a", a, start)), a);
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::LeaderRejoined { member_id: a.clone() }));
    // b keeps its session alive but never rejoins.
    for t in [start + 5_000, start + 10_000, start + 15_000] {
        assert_eq!(h.heartbeat(b, 1, t), ErrorCode::RebalanceInProgress);
    }
    let deadline = start + i64::from(REBALANCE_MS);
    assert_eq!(h.group.next_deadline_ms(), Some(deadline));
    let tick = h.group.tick(deadline);
    let joins = join_effects(&tick.effects);
    assert_eq!(joins.len(), 1);
    assert_eq!((joins[0].0, joins[0].1.generation_id), (a.as_str(), 2));
    assert_eq!(member_ids(&joins[0].1.members), [a.as_str()]);
    assert!(h.group.member(b).is_none());
    let record = h.group.history().last().expect("record");
    assert_eq!((record.generation_id, record.member_count), (2, 1));
    assert_eq!(record.removed_on_timeout, std::slice::from_ref(b));
    assert_eq!(h.group.history().removed_on_timeout(), 1);
    assert_eq!(h.heartbeat(b, 2, deadline + 1), ErrorCode::UnknownMemberId);
}

#[test]
fn a_leader_that_never_syncs_is_removed_after_the_rebalance_timeout() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    let (done_ms, _) = h.complete_join_phase();
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    pending(&h.sync(&b, 1, &[], done_ms + 100));
    // The leader heartbeats (so its session lives) but never sends SyncGroup.
    for t in (1..=3).map(|i| done_ms + i * 5_000) {
        assert_eq!(h.heartbeat(&a, 1, t), ErrorCode::None);
    }
    let deadline = done_ms + i64::from(REBALANCE_MS);
    let tick = h.group.tick(deadline);
    let syncs = sync_effects(&tick.effects);
    assert_eq!(syncs.len(), 1);
    assert_eq!((syncs[0].0, syncs[0].1.error), (b.as_str(), ErrorCode::RebalanceInProgress));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        h.group.rebalance_cause(),
        Some(&RebalanceCause::RebalanceTimeout { member_ids: vec![a.clone()] })
    );
    assert_eq!(h.group.leader(), Some(b.as_str()));
    assert_eq!(now(&h.rejoin("b", &b, deadline + 10)).generation_id, 2);
}

#[test]
fn a_leader_whose_session_expires_before_syncing_is_removed() {
    let mut h = Harness::new();
    let slow = |client| JoinGroupRequest { rebalance_timeout_ms: 60_000, ..request(client, "") };
    let (a, _) = h.join_new(slow("a"), 0);
    let (b, _) = h.join_new(slow("b"), 0);
    let (done_ms, _) = h.complete_join_phase();
    pending(&h.sync(&b, 1, &[], done_ms + 100));
    let expiry = done_ms + i64::from(SESSION_MS);
    assert_eq!(h.group.next_deadline_ms(), Some(expiry));
    let tick = h.group.tick(expiry);
    assert_eq!(sync_effects(&tick.effects)[0].1.error, ErrorCode::RebalanceInProgress);
    assert!(h.group.member(&a).is_none());
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::SessionTimeout { member_id: a.clone() }));
}

#[test]
fn a_removed_members_waiting_requests_get_unknown_member_id() {
    // A long rebalance: b never rejoins, and its session outlives a new member's join timeout.
    let patient = |client: &str, member_id: &str| JoinGroupRequest {
        session_timeout_ms: 900_000,
        rebalance_timeout_ms: 900_000,
        ..request(client, member_id)
    };
    let mut h = Harness::new();
    let (a, _) = h.join_new(patient("a", ""), 0);
    let (b, _) = h.join_new(patient("b", ""), 0);
    let (t, _) = h.complete_join_phase();
    h.sync_all(&[("a", &a), ("b", &b)], t);
    pending(&h.join(patient("a", &a), t + 1_000));
    let (c, out_c) = h.join_new(request("c", ""), t + 1_000);
    pending(&out_c);
    // New members may wait at most 5 minutes for the join phase.
    assert_eq!(h.group.next_deadline_ms(), Some(t + 301_000));
    let tick = h.group.tick(t + 301_000);
    let joins = join_effects(&tick.effects);
    assert_eq!(joins.len(), 1);
    assert_eq!((joins[0].0, joins[0].1.error), (c.as_str(), ErrorCode::UnknownMemberId));
    assert_eq!(joins[0].1.member_id, "");
    assert!(h.group.member(&c).is_none());
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);

    // A member waiting in SyncGroup that leaves gets UNKNOWN_MEMBER_ID.
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    let (done_ms, _) = h.complete_join_phase();
    pending(&h.sync(&b, 1, &[], done_ms));
    let left = h.group.leave_group(vec![leaving(&b), leaving(&a)], done_ms + 1);
    let syncs = sync_effects(&left.effects);
    assert_eq!(syncs.len(), 1);
    assert_eq!((syncs[0].0, syncs[0].1.error), (b.as_str(), ErrorCode::UnknownMemberId));
    assert_eq!(h.group.state(), GroupState::Empty);
}

#[test]
fn known_members_rejoining_without_changes_get_the_current_generation() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    let (done_ms, _) = h.complete_join_phase();
    // CompletingRebalance: a member that lost its JoinGroup response gets it again.
    let again = now(&h.rejoin("a", &a, done_ms + 1));
    assert_eq!((again.generation_id, again.members.len()), (1, 2));
    h.sync_all(&[("a", &a), ("b", &b)], done_ms + 2);
    // Stable: a follower with unchanged protocols is told the current generation, no rebalance.
    let out = h.rejoin("b", &b, done_ms + 3);
    let response = now(&out);
    assert_eq!((response.generation_id, response.leader.as_str()), (1, a.as_str()));
    assert!(response.members.is_empty() && out.effects.is_empty());
    assert_eq!(h.group.state(), GroupState::Stable);
    assert_eq!(now(&h.sync(&b, 1, &[], done_ms + 4)).assignment, bytes("assign-b"));
}

#[test]
fn a_pending_member_id_holds_the_join_phase_until_it_joins_or_expires() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a"], 0);
    let t = done_ms + 1_000;
    let first = now(&h.join(request("c", ""), t));
    assert_eq!(first.error, ErrorCode::MemberIdRequired);
    assert_eq!(h.group.state(), GroupState::Stable);
    // Every member has rejoined, but the member id handed out is still expected.
    pending(&h.rejoin("a", &ids[0], t + 10));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    let out_c = h.join(request("c", &first.member_id), t + 20);
    assert_eq!(now(&out_c).generation_id, 2);
    assert_eq!(
        member_ids(&join_effects(&out_c.effects)[0].1.members),
        [ids[0].as_str(), first.member_id.as_str()]
    );

    // An unused member id expires after the session timeout, releasing the join phase.
    let t = t + 100;
    h.sync_all(&[("a", &ids[0]), ("c", &first.member_id)], t);
    let unused = now(&h.join(request("d", ""), t)).member_id;
    pending(&h.rejoin("a", &ids[0], t + 10));
    assert!(h.group.is_pending_member(&unused));
    assert_eq!(h.heartbeat(&first.member_id, 2, t + 5_000), ErrorCode::RebalanceInProgress);
    let tick = h.group.tick(t + i64::from(SESSION_MS));
    assert!(!h.group.is_pending_member(&unused));
    // c did not rejoin, but the phase still waits for its rebalance timeout.
    assert!(tick.effects.is_empty());
    assert_eq!(now(&h.rejoin("c", &first.member_id, t + 10_001)).generation_id, 3);
    assert_eq!(now(&h.join(request("d", &unused), t + 10_002)).error, ErrorCode::UnknownMemberId);
}

#[test]
fn two_cooperative_rounds_in_a_row() {
    // KIP-429: after a round that revokes partitions, members rejoin at once for a second round.
    let coop = |client: &str, member_id: &str, owned: &str| JoinGroupRequest {
        protocols: protocols(&[("cooperative-sticky", &format!("{client}:{owned}"))]),
        ..request(client, member_id)
    };
    let mut h = Harness::new();
    let (a, _) = h.join_new(coop("a", "", ""), 0);
    let (b, _) = h.join_new(coop("b", "", ""), 0);
    let (t, _) = h.complete_join_phase();
    let gen1 = [(a.as_str(), "p0,p1"), (b.as_str(), "p2,p3")];
    pending(&h.sync(&b, 1, &[], t));
    now(&h.sync(&a, 1, &gen1, t));

    // Round 1: c joins; a and b rejoin still owning their partitions.
    let (c, _) = h.join_new(coop("c", "", ""), t + 100);
    assert_eq!(h.heartbeat(&a, 1, t + 150), ErrorCode::RebalanceInProgress);
    pending(&h.join(coop("a", &a, "p0,p1"), t + 200));
    let out = h.join(coop("b", &b, "p2,p3"), t + 300);
    assert_eq!(now(&out).generation_id, 2);
    let leader_view =
        join_effects(&out.effects).into_iter().find(|(id, _)| *id == a).expect("leader").1.clone();
    assert_eq!(leader_view.members[0].metadata, bytes("a:p0,p1"));
    // The leader revokes p1 from a before giving it to c.
    pending(&h.sync(&b, 2, &[], t + 400));
    pending(&h.sync(&c, 2, &[], t + 400));
    let out = h.sync(&a, 2, &[(&a, "p0"), (&b, "p2,p3"), (&c, "")], t + 500);
    assert_eq!(now(&out).assignment, bytes("p0"));
    assert_eq!(h.group.state(), GroupState::Stable);

    // Round 2 right away: a rejoins having revoked p1 (changed metadata), the others follow.
    pending(&h.join(coop("a", &a, "p0"), t + 600));
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::ProtocolChange { member_id: a.clone() }));
    assert_eq!(h.heartbeat(&c, 2, t + 650), ErrorCode::RebalanceInProgress);
    pending(&h.join(coop("b", &b, "p2,p3"), t + 700));
    let out = h.join(coop("c", &c, ""), t + 800);
    assert_eq!(now(&out).generation_id, 3);
    pending(&h.sync(&b, 3, &[], t + 900));
    let out_c = h.sync(&c, 2, &[], t + 900);
    assert_eq!(now(&out_c).error, ErrorCode::IllegalGeneration);
    pending(&h.sync(&c, 3, &[], t + 900));
    let out = h.sync(&a, 3, &[(&a, "p0"), (&b, "p2,p3"), (&c, "p1")], t + 1_000);
    let syncs = sync_effects(&out.effects);
    assert_eq!(
        syncs.iter().map(|(id, r)| (*id, r.assignment.clone())).collect::<Vec<_>>(),
        [(b.as_str(), bytes("p2,p3")), (c.as_str(), bytes("p1"))]
    );
    let causes: Vec<RebalanceCauseKind> = h.group.history().records().map(|r| r.cause.kind()).collect();
    assert_eq!(
        causes,
        [
            RebalanceCauseKind::MemberJoined,
            RebalanceCauseKind::MemberJoined,
            RebalanceCauseKind::ProtocolChange
        ]
    );
}

#[test]
fn a_rejoin_while_awaiting_the_leaders_assignment_starts_the_next_round() {
    let mut h = Harness::new();
    let (a, _) = h.join_new(request("a", ""), 0);
    let (b, _) = h.join_new(request("b", ""), 0);
    let (t, _) = h.complete_join_phase();
    pending(&h.sync(&b, 1, &[], t));
    // The leader rejoins with new metadata before assigning: the waiting SyncGroups are cancelled.
    let changed = JoinGroupRequest { protocols: protocols(&[("range", "a2")]), ..request("a", &a) };
    let out = h.join(changed, t + 10);
    pending(&out);
    let syncs = sync_effects(&out.effects);
    assert_eq!(syncs.len(), 1);
    assert_eq!((syncs[0].0, syncs[0].1.error), (b.as_str(), ErrorCode::RebalanceInProgress));
    assert_eq!(syncs[0].1.protocol_name, None);
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.rebalance_cause(), Some(&RebalanceCause::ProtocolChange { member_id: a.clone() }));
    let out = h.rejoin("b", &b, t + 20);
    assert_eq!(now(&out).generation_id, 2);
    let leader_view = &join_effects(&out.effects)[0].1.members;
    assert_eq!(leader_view[0].metadata, bytes("a2"));
}

#[test]
fn history_keeps_the_last_100_rebalances() {
    let mut h = Harness::new();
    let (ids, mut t) = h.stable(&["a"], 0);
    let a = &ids[0];
    for _ in 0..150 {
        t += 10;
        let response = now(&h.rejoin("a", a, t));
        now(&h.sync(a, response.generation_id, &[(a, "x")], t));
    }
    let history = h.group.history();
    assert_eq!(h.group.generation_id(), 151);
    assert_eq!(history.records().len(), history::HISTORY_LIMIT);
    assert_eq!(history.records().next().map(|r| r.generation_id), Some(52));
    assert_eq!(history.last().map(|r| r.generation_id), Some(151));
    assert_eq!(history.count(RebalanceCauseKind::LeaderRejoined), 150);
    assert_eq!(history.count(RebalanceCauseKind::MemberJoined), 1);
    assert_eq!(history.total(), 151);
}
