//! Protocol selection (Kafka's `selectProtocol`): candidates every member supports, one vote per
//! member for its most preferred candidate.

use super::*;

/// Joins members with these protocol lists and completes the join phase; the chosen protocol and the
/// leader's response.
fn choose(lists: &[&[&str]]) -> (Option<String>, JoinGroupResponse) {
    let mut h = Harness::new();
    for (i, list) in lists.iter().enumerate() {
        let client = format!("m{i}");
        let pairs: Vec<(&str, &str)> = list.iter().map(|name| (*name, client.as_str())).collect();
        let (_, out) =
            h.join_new(JoinGroupRequest { protocols: protocols(&pairs), ..request(&client, "") }, 0);
        pending(&out);
    }
    let (_, effects) = h.complete_join_phase();
    let leader = join_effects(&effects)[0].1.clone();
    (h.group.protocol_name().map(str::to_owned), leader)
}

#[test]
fn the_protocol_with_most_votes_wins() {
    let (chosen, leader) =
        choose(&[&["range", "roundrobin"], &["roundrobin", "range"], &["roundrobin", "range", "sticky"]]);
    assert_eq!(chosen.as_deref(), Some("roundrobin"));
    assert_eq!(leader.protocol_name.as_deref(), Some("roundrobin"));
    // Metadata in the leader's response is each member's for the chosen protocol.
    assert_eq!(leader.members[2].metadata, bytes("m2"));
}

#[test]
fn only_protocols_every_member_supports_are_candidates() {
    let (chosen, _) = choose(&[&["sticky", "range"], &["range", "sticky"], &["range"]]);
    assert_eq!(chosen.as_deref(), Some("range"));
    let (chosen, _) = choose(&[&["sticky", "range", "rr"], &["rr", "sticky", "range"], &["sticky", "rr"]]);
    // Votes: sticky, rr, sticky.
    assert_eq!(chosen.as_deref(), Some("sticky"));
}

#[test]
fn a_tie_goes_to_the_earliest_members_vote() {
    let (chosen, _) = choose(&[&["range", "roundrobin"], &["roundrobin", "range"]]);
    assert_eq!(chosen.as_deref(), Some("range"));
    let (chosen, _) = choose(&[&["roundrobin", "range"], &["range", "roundrobin"]]);
    assert_eq!(chosen.as_deref(), Some("roundrobin"));
}

#[test]
fn a_member_without_a_common_protocol_cannot_join() {
    let mut h = Harness::new();
    let (ids, _) = h.stable(&["a"], 0);
    let sticky_only = JoinGroupRequest { protocols: protocols(&[("sticky", "b")]), ..request("b", "") };
    let response = now(&h.join(sticky_only.clone(), 10_000));
    assert_eq!((response.error, response.member_id.as_str()), (ErrorCode::InconsistentGroupProtocol, ""));
    // An existing member cannot switch to a protocol the others lack either.
    let switch = JoinGroupRequest { member_id: ids[0].clone(), ..sticky_only };
    let response = now(&h.join(switch, 10_001));
    assert_eq!(
        (response.error, response.member_id.as_str()),
        (ErrorCode::InconsistentGroupProtocol, ids[0].as_str())
    );
    assert_eq!(h.group.state(), GroupState::Stable);
}
