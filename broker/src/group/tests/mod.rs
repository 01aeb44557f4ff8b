//! Deterministic tests of the group state machine: injected times, member ids from a counter.

mod clock_steps;
mod errors;
mod protocols;
mod rebalance;
mod simulation;
mod static_members;

use bytes::Bytes;

use super::*;
use crate::error_code::ErrorCode;

/// Session timeout of the test members.
const SESSION_MS: i32 = 10_000;
/// Rebalance timeout of the test members.
const REBALANCE_MS: i32 = 20_000;

fn protocols(list: &[(&str, &str)]) -> Vec<Protocol> {
    list.iter()
        .map(|(name, metadata)| Protocol {
            name: (*name).to_owned(),
            metadata: Bytes::from(metadata.to_string()),
        })
        .collect()
}

/// A v5 JoinGroup of a dynamic consumer supporting `range` with its client id as metadata.
fn request(client_id: &str, member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        api_version: 5,
        client_id: client_id.to_owned(),
        client_host: format!("/10.0.0.{}", client_id.len()),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        member_id: member_id.to_owned(),
        group_instance_id: None,
        protocol_type: "consumer".to_owned(),
        protocols: protocols(&[("range", client_id)]),
        reason: None,
    }
}

/// The same, for a static member with instance id `i-{client_id}`.
fn static_request(client_id: &str, member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest { group_instance_id: Some(format!("i-{client_id}")), ..request(client_id, member_id) }
}

fn heartbeat_request(member_id: &str, generation_id: i32) -> HeartbeatRequest {
    HeartbeatRequest { generation_id, member_id: member_id.to_owned(), group_instance_id: None }
}

fn leaving(member_id: &str) -> LeavingMember {
    LeavingMember { member_id: member_id.to_owned(), group_instance_id: None, reason: None }
}

fn bytes(s: &str) -> Bytes {
    Bytes::from(s.to_owned())
}

/// The member id of a pending reply.
#[track_caller]
fn pending<R: std::fmt::Debug>(outcome: &Outcome<R>) -> &str {
    match &outcome.reply {
        Reply::Pending { member_id } => member_id,
        Reply::Now(response) => panic!("expected Pending, got {response:?}"),
    }
}

/// The response of an immediate reply.
#[track_caller]
fn now<R: Clone>(outcome: &Outcome<R>) -> R {
    match &outcome.reply {
        Reply::Now(response) => response.clone(),
        Reply::Pending { member_id } => panic!("expected a response, got Pending for {member_id}"),
    }
}

fn join_effects(effects: &[Effect]) -> Vec<(&str, &JoinGroupResponse)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::JoinGroup { member_id, response } => Some((member_id.as_str(), response)),
            Effect::SyncGroup { .. } => None,
        })
        .collect()
}

fn sync_effects(effects: &[Effect]) -> Vec<(&str, &SyncGroupResponse)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SyncGroup { member_id, response } => Some((member_id.as_str(), response)),
            Effect::JoinGroup { .. } => None,
        })
        .collect()
}

fn member_ids(members: &[JoinGroupMember]) -> Vec<&str> {
    members.iter().map(|m| m.member_id.as_str()).collect()
}

/// A group under test; member ids are `{client_id}-{n}` with a counter.
struct Harness {
    group: Group,
    next_id: u32,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(GroupConfig::default())
    }

    fn with_config(config: GroupConfig) -> Self {
        Self { group: Group::new("g", config), next_id: 0 }
    }

    fn join(&mut self, request: JoinGroupRequest, now_ms: i64) -> Outcome<JoinGroupResponse> {
        let next_id = &mut self.next_id;
        let mut fresh_id = || {
            *next_id += 1;
            next_id.to_string()
        };
        self.group.join_group(request, now_ms, &mut fresh_id)
    }

    /// A new dynamic member's two JoinGroups (MEMBER_ID_REQUIRED, then with the id): its id and the
    /// second outcome.
    #[track_caller]
    fn join_new(&mut self, request: JoinGroupRequest, now_ms: i64) -> (String, Outcome<JoinGroupResponse>) {
        let first = now(&self.join(request.clone(), now_ms));
        assert_eq!(first.error, ErrorCode::MemberIdRequired);
        let member_id = first.member_id;
        let outcome = self.join(JoinGroupRequest { member_id: member_id.clone(), ..request }, now_ms);
        (member_id, outcome)
    }

    /// Rejoins `member_id` with the protocols of [`request`] for `client_id` (unchanged metadata).
    fn rejoin(&mut self, client_id: &str, member_id: &str, now_ms: i64) -> Outcome<JoinGroupResponse> {
        self.join(request(client_id, member_id), now_ms)
    }

    fn sync(
        &mut self,
        member_id: &str,
        generation_id: i32,
        assignments: &[(&str, &str)],
        now_ms: i64,
    ) -> Outcome<SyncGroupResponse> {
        let assignments = assignments
            .iter()
            .map(|(member_id, assignment)| MemberAssignment {
                member_id: (*member_id).to_owned(),
                assignment: bytes(assignment),
            })
            .collect();
        let request = SyncGroupRequest {
            generation_id,
            member_id: member_id.to_owned(),
            group_instance_id: None,
            protocol_type: Some("consumer".to_owned()),
            protocol_name: self.group.protocol_name().map(str::to_owned),
            assignments,
        };
        self.group.sync_group(request, now_ms)
    }

    fn heartbeat(&mut self, member_id: &str, generation_id: i32, now_ms: i64) -> ErrorCode {
        self.group.heartbeat(heartbeat_request(member_id, generation_id), now_ms).response
    }

    /// Ticks at each next deadline until the join phase completes; the completion time and effects.
    fn complete_join_phase(&mut self) -> (i64, Vec<Effect>) {
        let mut effects = Vec::new();
        while self.group.state() == GroupState::PreparingRebalance {
            let deadline = self.group.next_deadline_ms().expect("a rebalancing group has a deadline");
            effects.extend(self.group.tick(deadline).effects);
            if self.group.state() != GroupState::PreparingRebalance {
                return (deadline, effects);
            }
        }
        panic!("group is {} without a join phase", self.group.state());
    }

    /// Syncs every member (followers first, then the leader with `assign-{client}` assignments)
    /// at `now_ms`; the group must be CompletingRebalance.
    #[track_caller]
    fn sync_all(&mut self, clients: &[(&str, &str)], now_ms: i64) {
        let generation = self.group.generation_id();
        let leader = self.group.leader().expect("leader").to_owned();
        for (_, member_id) in clients.iter().filter(|(_, id)| *id != leader) {
            pending(&self.sync(member_id, generation, &[], now_ms));
        }
        let assignments: Vec<(String, String)> =
            clients.iter().map(|(client, id)| ((*id).to_owned(), format!("assign-{client}"))).collect();
        let refs: Vec<(&str, &str)> = assignments.iter().map(|(m, a)| (m.as_str(), a.as_str())).collect();
        let outcome = self.sync(&leader, generation, &refs, now_ms);
        assert_eq!(now(&outcome).error, ErrorCode::None);
        assert_eq!(outcome.effects.len(), clients.len() - 1);
        assert_eq!(self.group.state(), GroupState::Stable);
    }

    /// A Stable generation-1 group of new dynamic members joined from `start_ms`; their ids and the
    /// time the group became Stable.
    fn stable(&mut self, clients: &[&str], start_ms: i64) -> (Vec<String>, i64) {
        let mut ids = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let (member_id, outcome) = self.join_new(request(client, ""), start_ms + i as i64);
            assert_eq!(pending(&outcome), member_id);
            ids.push(member_id);
        }
        let (done_ms, effects) = self.complete_join_phase();
        assert_eq!(join_effects(&effects).len(), clients.len());
        let pairs: Vec<(&str, &str)> = clients.iter().copied().zip(ids.iter().map(String::as_str)).collect();
        self.sync_all(&pairs, done_ms);
        (ids, done_ms)
    }
}

#[test]
fn state_names_are_kafkas() {
    let names: Vec<&str> = GroupState::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"]);
    assert_eq!(GroupState::from_name("completingrebalance"), Some(GroupState::CompletingRebalance));
    assert_eq!(GroupState::from_name("AwaitingSync"), None);
    assert_eq!(GroupState::Stable.to_string(), "Stable");
}

#[test]
fn describe_and_list_follow_kafka() {
    let mut h = Harness::new();
    let (ids, done_ms) = h.stable(&["a", "b"], 0);
    let summary = h.group.describe();
    assert_eq!(summary.state.name(), "Stable");
    assert_eq!((summary.protocol_type.as_str(), summary.protocol.as_str()), ("consumer", "range"));
    let member = &summary.members[1];
    assert_eq!(member.member_id, ids[1]);
    assert_eq!((member.client_id.as_str(), member.client_host.as_str()), ("b", "/10.0.0.1"));
    assert_eq!((member.metadata.clone(), member.assignment.clone()), (bytes("b"), bytes("assign-b")));
    let overview = h.group.overview();
    assert_eq!((overview.group_id.as_str(), overview.protocol_type.as_str()), ("g", "consumer"));
    assert_eq!(overview.state, GroupState::Stable);

    // While rebalancing: no protocol, no metadata, no assignment (as Kafka's summary).
    pending(&h.rejoin("a", &ids[0], done_ms + 1));
    let summary = h.group.describe();
    assert_eq!(summary.state, GroupState::PreparingRebalance);
    assert_eq!(summary.protocol, "");
    assert!(summary.members.iter().all(|m| m.metadata.is_empty() && m.assignment.is_empty()));
    assert_eq!(GroupSummary::dead("x").state, GroupState::Dead);
}

#[test]
fn next_deadline_tracks_sessions_and_phases() {
    let mut h = Harness::new();
    assert_eq!(h.group.next_deadline_ms(), None);
    let (a, _) = h.join_new(request("a", ""), 0);
    // Initial delay (3 s) before the new member's 5-minute join timeout.
    assert_eq!(h.group.next_deadline_ms(), Some(3_000));
    let tick = h.group.tick(3_000);
    assert_eq!(join_effects(&tick.effects).len(), 1);
    // Sessions restart at completion; the sync phase ends after the rebalance timeout.
    assert_eq!(tick.next_deadline_ms, Some(3_000 + i64::from(SESSION_MS)));
    assert_eq!(now(&h.sync(&a, 1, &[(&a, "x")], 3_000)).assignment, bytes("x"));
    assert_eq!(h.group.state(), GroupState::Stable);
    assert_eq!(h.group.next_deadline_ms(), Some(13_000));
    assert_eq!(h.heartbeat(&a, 1, 12_000), ErrorCode::None);
    assert_eq!(h.group.next_deadline_ms(), Some(22_000));
}
