//! Seeded random workloads: clients join, sync, heartbeat, leave, restart and go silent while time
//! jumps. After every step the group's invariants hold and every effect is addressed to a request
//! that is waiting; once the clients stop, every waiting request gets its answer and the group
//! empties.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Api {
    Join,
    Sync,
}

/// What a client believes about its membership.
#[derive(Debug)]
struct Client {
    name: String,
    group_instance_id: Option<String>,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    prefers_roundrobin: bool,
    metadata_version: u32,
    member_id: String,
    generation_id: i32,
    /// Members to assign when this client leads the current generation.
    roster: Vec<String>,
}

impl Client {
    fn join_request(&self, rng: &mut StdRng) -> JoinGroupRequest {
        let metadata = format!("{}-{}", self.name, self.metadata_version);
        let mut list = vec![("range", metadata.as_str()), ("roundrobin", metadata.as_str())];
        if self.prefers_roundrobin {
            list.reverse();
        }
        JoinGroupRequest {
            api_version: rng.random_range(3..=9),
            client_id: self.name.clone(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: self.session_timeout_ms,
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            member_id: self.member_id.clone(),
            group_instance_id: self.group_instance_id.clone(),
            protocol_type: "consumer".into(),
            protocols: protocols(&list),
            reason: None,
        }
    }

    fn on_join(&mut self, response: &JoinGroupResponse) {
        match response.error {
            ErrorCode::None => {
                self.member_id.clone_from(&response.member_id);
                self.generation_id = response.generation_id;
                self.roster = response.members.iter().map(|m| m.member_id.clone()).collect();
            }
            ErrorCode::MemberIdRequired => self.member_id.clone_from(&response.member_id),
            ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId => self.reset(),
            _ => {}
        }
    }

    fn on_error(&mut self, error: ErrorCode) {
        if matches!(error, ErrorCode::UnknownMemberId | ErrorCode::FencedInstanceId) {
            self.reset();
        }
    }

    fn reset(&mut self) {
        self.member_id.clear();
        self.generation_id = -1;
        self.roster.clear();
    }
}

struct World {
    group: Group,
    clients: Vec<Client>,
    /// Requests waiting for an effect: (member id, API) → client index.
    parked: HashMap<(String, Api), usize>,
    now_ms: i64,
    next_id: u64,
    last_generation: i32,
}

impl World {
    fn new(rng: &mut StdRng) -> Self {
        let clients = (0..5)
            .map(|i| Client {
                name: format!("c{i}"),
                group_instance_id: (i % 2 == 0).then(|| format!("i{i}")),
                session_timeout_ms: rng.random_range(6_000..=20_000),
                rebalance_timeout_ms: rng.random_range(2_000..=30_000),
                prefers_roundrobin: rng.random_bool(0.5),
                metadata_version: 0,
                member_id: String::new(),
                generation_id: -1,
                roster: Vec::new(),
            })
            .collect();
        let config = GroupConfig { max_size: rng.random_range(3..=6), ..GroupConfig::default() };
        let group = Group::new("sim", config);
        Self { group, clients, parked: HashMap::new(), now_ms: 0, next_id: 0, last_generation: 0 }
    }

    fn step(&mut self, rng: &mut StdRng) {
        let c = rng.random_range(0..self.clients.len());
        match rng.random_range(0..10) {
            0..=2 => self.join(c, rng),
            3..=4 => self.sync(c),
            5..=6 => {
                let client = &self.clients[c];
                let request = HeartbeatRequest {
                    generation_id: client.generation_id,
                    member_id: client.member_id.clone(),
                    group_instance_id: client.group_instance_id.clone(),
                };
                let answer = self.group.heartbeat(request, self.now_ms);
                self.clients[c].on_error(answer.response);
                self.deliver(answer.effects);
            }
            7 => {
                let client = &self.clients[c];
                let leaving = LeavingMember {
                    member_id: client.member_id.clone(),
                    group_instance_id: client.group_instance_id.clone(),
                    reason: None,
                };
                let answer = self.group.leave_group(vec![leaving], self.now_ms);
                self.clients[c].reset();
                self.deliver(answer.effects);
            }
            _ => {
                self.now_ms += rng.random_range(0..12_000);
                let tick = self.group.tick(self.now_ms);
                self.deliver(tick.effects);
            }
        }
        self.check_invariants();
    }

    fn join(&mut self, c: usize, rng: &mut StdRng) {
        if rng.random_bool(0.1) {
            self.clients[c].metadata_version += 1;
        }
        if self.clients[c].group_instance_id.is_some() && rng.random_bool(0.2) {
            self.clients[c].reset(); // restart of a static member
        }
        let request = self.clients[c].join_request(rng);
        let next_id = &mut self.next_id;
        let mut fresh_id = || {
            *next_id += 1;
            next_id.to_string()
        };
        let outcome = self.group.join_group(request, self.now_ms, &mut fresh_id);
        match &outcome.reply {
            Reply::Now(response) => self.clients[c].on_join(response),
            Reply::Pending { member_id } => {
                self.clients[c].member_id.clone_from(member_id);
                self.parked.insert((member_id.clone(), Api::Join), c);
            }
        }
        self.deliver(outcome.effects);
    }

    fn sync(&mut self, c: usize) {
        let client = &self.clients[c];
        let assignments = client
            .roster
            .iter()
            .map(|m| MemberAssignment { member_id: m.clone(), assignment: bytes(&format!("for-{m}")) })
            .collect();
        let request = SyncGroupRequest {
            generation_id: client.generation_id,
            member_id: client.member_id.clone(),
            group_instance_id: client.group_instance_id.clone(),
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments,
        };
        let outcome = self.group.sync_group(request, self.now_ms);
        match &outcome.reply {
            Reply::Now(response) => self.clients[c].on_error(response.error),
            Reply::Pending { member_id } => {
                self.parked.insert((member_id.clone(), Api::Sync), c);
            }
        }
        self.deliver(outcome.effects);
    }

    fn deliver(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            let api = match effect {
                Effect::JoinGroup { .. } => Api::Join,
                Effect::SyncGroup { .. } => Api::Sync,
            };
            let key = (effect.member_id().to_owned(), api);
            let c = self
                .parked
                .remove(&key)
                .unwrap_or_else(|| panic!("effect {effect:?} has no waiting request"));
            if self.clients[c].member_id != key.0 {
                continue; // the client moved on (restarted with a new member id)
            }
            match effect {
                Effect::JoinGroup { response, .. } => self.clients[c].on_join(&response),
                Effect::SyncGroup { response, .. } => {
                    if response.error == ErrorCode::None {
                        let expected = format!("for-{}", self.clients[c].member_id);
                        assert!(
                            response.assignment.is_empty() || response.assignment == bytes(&expected),
                            "{} got another member's assignment",
                            self.clients[c].member_id
                        );
                    }
                    self.clients[c].on_error(response.error);
                }
            }
        }
    }

    fn check_invariants(&mut self) {
        let g = &self.group;
        let state = g.state();
        assert!(g.generation_id >= self.last_generation, "generation went back");
        self.last_generation = g.generation_id;
        assert_eq!(state == GroupState::PreparingRebalance, g.join_phase.is_some(), "join phase in {state}");
        if state == GroupState::Empty {
            assert_eq!(g.member_count(), 0);
            assert_eq!(g.protocol_name(), None);
        }
        if g.member_count() == 0 {
            assert!(
                matches!(state, GroupState::Empty | GroupState::PreparingRebalance),
                "no members in {state}"
            );
        }
        match g.leader() {
            Some(leader) => assert!(g.member(leader).is_some(), "leader {leader} is not a member"),
            None => assert_eq!(g.member_count(), 0, "members without a leader"),
        }
        let max_size = usize::try_from(g.config.max_size).unwrap_or(0);
        assert!(g.members().filter(|m| m.awaiting_join).count() <= max_size, "rejoined above group.max.size");
        if matches!(state, GroupState::CompletingRebalance | GroupState::Stable) {
            let protocol = g.protocol_name().expect("a protocol");
            assert!(g.members().all(|m| m.supports(protocol)), "{protocol} not supported by all");
        }
        if g.sync_deadline_ms.is_some() {
            assert!(matches!(state, GroupState::CompletingRebalance | GroupState::Stable));
        }
        for member in g.members() {
            assert!(
                !member.awaiting_join || state == GroupState::PreparingRebalance,
                "awaiting join in {state}"
            );
            assert!(
                !member.awaiting_sync || state == GroupState::CompletingRebalance,
                "awaiting sync in {state}"
            );
            if let Some(instance) = &member.group_instance_id {
                assert_eq!(g.static_member(instance), Some(member.member_id.as_str()));
            }
        }
        // Every waiting request belongs to a member that is waiting (or to nobody any more, which
        // only a superseded request can be).
        for (member_id, api) in self.parked.keys() {
            let member = g.member(member_id).unwrap_or_else(|| panic!("{member_id} waits but is gone"));
            let waiting = match api {
                Api::Join => member.awaiting_join,
                Api::Sync => member.awaiting_sync,
            };
            assert!(waiting, "{member_id} parked for {api:?} but the group does not know");
        }
    }

    /// The clients stop; ticking at each deadline must answer every waiting request and empty the group.
    fn quiesce(&mut self) {
        for _ in 0..1_000 {
            let Some(deadline) = self.group.next_deadline_ms() else { break };
            assert!(deadline > self.now_ms, "deadline {deadline} already passed at {}", self.now_ms);
            self.now_ms = deadline;
            let tick = self.group.tick(self.now_ms);
            self.deliver(tick.effects);
            self.check_invariants();
        }
        assert_eq!(self.group.next_deadline_ms(), None, "timers still running");
        assert!(self.parked.is_empty(), "requests never answered: {:?}", self.parked);
        assert_eq!(self.group.state(), GroupState::Empty);
    }
}

#[test]
fn random_workloads_keep_the_group_consistent() {
    for seed in 0..300_u64 {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut world = World::new(&mut rng);
            for _ in 0..400 {
                world.step(&mut rng);
            }
            world.quiesce();
            world.group.history().total()
        }));
        match result {
            Ok(rebalances) => assert!(rebalances > 0, "seed {seed}: no rebalance at all"),
            Err(panic) => {
                eprintln!("group simulation failed with seed {seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
}
