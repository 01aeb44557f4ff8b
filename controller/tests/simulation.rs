//! Deterministic simulation of the controller's pure metadata operations.
//!
//! One seeded RNG drives random sequences of broker registrations (new and restarted incarnations,
//! wrong cluster ids), heartbeats, crashes, time advancing with session expiry and fencing, controlled
//! shutdowns, topic creation and deletion, partition growth, AlterPartition requests (fresh, mutated and
//! replayed stale ones) and offset commits. Every record an operation returns is replayed into the
//! image; after every step the partition invariants are checked against the image and against the
//! previous step. A failure prints its seed; rerun one with
//! `STROM_SIM_SEED=<seed> cargo test -p strom-controller --test simulation`.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use strom_controller::error_code::ErrorCode;
use strom_controller::metadata::ops::{
    AlterPartitionRequest, BrokerHeartbeat, BrokerHeartbeatTracker, BrokerRegistration, CreateDefaults,
    DEFAULT_OFFSET_METADATA_MAX_BYTES, NewTopic, OffsetCommitEntry, OpError, alter_broker_configs,
    alter_partition, alter_topic_configs, broker_heartbeat, commit_offsets, controlled_shutdown,
    create_partitions, create_topic, delete_topic, fence_broker, register_broker,
};
use strom_controller::metadata::{LeaderRecoveryState, MetadataImage, MetadataRecord, PartitionImage};
use uuid::Uuid;

const CLUSTER_ID: &str = "sim-cluster";
const MAX_BROKERS: i32 = 5;
const MAX_TOPICS: usize = 6;
const SESSION_TIMEOUT_MS: i64 = 1_000;
const DEFAULT_SEEDS: u64 = 200;
const UNCLEAN: &str = "unclean.leader.election.enable";
const DEFAULT_STEPS: usize = 300;
const DEFAULTS: CreateDefaults = CreateDefaults { num_partitions: 2, replication_factor: 2 };

/// Counts of what a run exercised, to show the simulation reaches the interesting cases.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    records: usize,
    fenced_by_expiry: usize,
    unfenced: usize,
    controlled_shutdowns: usize,
    restarts: usize,
    alter_ok: usize,
    alter_rejected: usize,
    stale_replays_rejected: usize,
    offline_partitions_seen: usize,
    unclean_elections: usize,
}

impl Stats {
    fn add(&mut self, other: &Stats) {
        self.records += other.records;
        self.fenced_by_expiry += other.fenced_by_expiry;
        self.unfenced += other.unfenced;
        self.controlled_shutdowns += other.controlled_shutdowns;
        self.restarts += other.restarts;
        self.alter_ok += other.alter_ok;
        self.alter_rejected += other.alter_rejected;
        self.stale_replays_rejected += other.stale_replays_rejected;
        self.offline_partitions_seen += other.offline_partitions_seen;
        self.unclean_elections += other.unclean_elections;
    }
}

struct Sim {
    rng: StdRng,
    image: MetadataImage,
    log: Vec<MetadataRecord>,
    tracker: BrokerHeartbeatTracker,
    now_ms: i64,
    /// Broker processes that are running (and so heartbeat when asked to).
    running: BTreeSet<i32>,
    incarnations: HashMap<i32, Uuid>,
    /// Successful AlterPartition requests that changed something: replaying one is always stale.
    history: Vec<AlterPartitionRequest>,
    /// Partition state after the previous step, for monotonicity checks.
    previous: HashMap<(Uuid, i32), PartitionImage>,
    racks: bool,
    topic_counter: u32,
    step: usize,
    stats: Stats,
}

/// Prints the seed when the simulation panics.
struct SeedReporter(u64);

impl Drop for SeedReporter {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "simulation failed with seed {0}; rerun: STROM_SIM_SEED={0} cargo test -p strom-controller --test simulation",
                self.0
            );
        }
    }
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let racks = rng.random_bool(0.5);
        Self {
            rng,
            image: MetadataImage::default(),
            log: Vec::new(),
            tracker: BrokerHeartbeatTracker::new(),
            now_ms: 0,
            running: BTreeSet::new(),
            incarnations: HashMap::new(),
            history: Vec::new(),
            previous: HashMap::new(),
            racks,
            topic_counter: 0,
            step: 0,
            stats: Stats::default(),
        }
    }

    fn apply(&mut self, records: Vec<MetadataRecord>) {
        for record in records {
            if let MetadataRecord::PartitionChange {
                leader_recovery_state: LeaderRecoveryState::Recovering,
                ..
            } = &record
            {
                self.stats.unclean_elections += 1;
            }
            self.image.replay(&record);
            self.log.push(record);
            self.stats.records += 1;
        }
    }

    fn ok(&self, what: &str, result: Result<Vec<MetadataRecord>, OpError>) -> Vec<MetadataRecord> {
        result.unwrap_or_else(|e| panic!("step {}: {what} failed: {e}", self.step))
    }

    fn new_uuid(&mut self) -> Uuid {
        Uuid::from_u128(self.rng.random::<u128>() | 1)
    }

    fn active_brokers(&self) -> usize {
        self.image.brokers().filter(|b| b.is_active()).count()
    }

    fn step(&mut self) {
        match self.rng.random_range(0..100) {
            0..12 => self.register(),
            12..40 => self.heartbeat(),
            40..52 => self.advance_time(),
            52..56 => self.crash(),
            56..59 => self.shutdown(),
            59..66 => self.create_topic(),
            66..69 => self.create_partitions(),
            69..90 => self.alter_partition(),
            90..93 => self.delete_topic(),
            93..96 => self.toggle_unclean(),
            _ => self.commit_offsets(),
        }
    }

    fn register(&mut self) {
        let broker_id = self.rng.random_range(1..=MAX_BROKERS);
        let restart = !self.running.contains(&broker_id) || self.rng.random_bool(0.3);
        let incarnation_id = match (restart, self.incarnations.get(&broker_id)) {
            (false, Some(id)) => *id,
            _ => self.new_uuid(),
        };
        let rack = self.racks.then(|| format!("rack-{}", broker_id % 3));
        let mut request = BrokerRegistration {
            broker_id,
            incarnation_id,
            cluster_id: CLUSTER_ID.into(),
            host: format!("broker-{broker_id}"),
            port: 9092,
            endpoints: Vec::new(),
            rack,
        };
        if self.rng.random_bool(0.05) {
            request.cluster_id = "other-cluster".into();
            let err =
                register_broker(&self.image, &request, CLUSTER_ID).expect_err("wrong cluster id accepted");
            assert_eq!(err.code, ErrorCode::InconsistentClusterId);
            return;
        }
        let known = self.image.broker(broker_id).map(|b| b.incarnation_id);
        let records = self.ok("register", register_broker(&self.image, &request, CLUSTER_ID));
        if known == Some(incarnation_id) {
            assert!(records.is_empty(), "re-registration of the same incarnation produced records");
        } else {
            self.stats.restarts += usize::from(known.is_some());
            assert!(matches!(records.last(), Some(MetadataRecord::RegisterBroker { fenced: true, .. })));
        }
        self.apply(records);
        self.incarnations.insert(broker_id, incarnation_id);
        self.running.insert(broker_id);
        self.tracker.heartbeat(broker_id, self.now_ms);
    }

    fn heartbeat(&mut self) {
        let running: Vec<i32> = self.running.iter().copied().collect();
        let Some(&broker_id) = running.choose(&mut self.rng) else { return };
        let Some(broker) = self.image.broker(broker_id) else { return };
        let mut request = BrokerHeartbeat {
            broker_id,
            broker_epoch: broker.broker_epoch,
            current_metadata_offset: self.image.offset,
            want_fence: false,
            want_shut_down: false,
        };
        if self.rng.random_bool(0.05) {
            request.broker_epoch -= 1;
            let err = broker_heartbeat(&self.image, &request).expect_err("stale broker epoch accepted");
            assert_eq!(err.code, ErrorCode::StaleBrokerEpoch);
            return;
        }
        let was_fenced = broker.fenced;
        self.tracker.heartbeat(broker_id, self.now_ms);
        let (records, response) = broker_heartbeat(&self.image, &request)
            .unwrap_or_else(|e| panic!("step {}: heartbeat failed: {e}", self.step));
        self.apply(records);
        assert_eq!(response.is_fenced, self.image.broker(broker_id).is_some_and(|b| b.fenced));
        self.stats.unfenced += usize::from(was_fenced && !response.is_fenced);
    }

    fn advance_time(&mut self) {
        self.now_ms += self.rng.random_range(0..=700);
        for broker_id in self.tracker.expired(self.now_ms, SESSION_TIMEOUT_MS) {
            let fenced = self.image.broker(broker_id).is_none_or(|b| b.fenced);
            if !fenced {
                let records = self.ok("fence", fence_broker(&self.image, broker_id));
                self.apply(records);
                self.stats.fenced_by_expiry += 1;
            }
            self.tracker.remove(broker_id);
        }
    }

    fn crash(&mut self) {
        let running: Vec<i32> = self.running.iter().copied().collect();
        if let Some(&broker_id) = running.choose(&mut self.rng) {
            self.running.remove(&broker_id);
        }
    }

    fn shutdown(&mut self) {
        let running: Vec<i32> = self.running.iter().copied().collect();
        let Some(&broker_id) = running.choose(&mut self.rng) else { return };
        let records = self.ok("controlled shutdown", controlled_shutdown(&self.image, broker_id));
        self.apply(records);
        let broker = self.image.broker(broker_id).expect("registered");
        assert!(broker.fenced, "controlled shutdown left broker {broker_id} unfenced");
        let leads = self.image.topics().flat_map(|t| t.partitions.values()).any(|p| p.leader == broker_id);
        assert!(!leads, "broker {broker_id} still leads after controlled shutdown");
        self.running.remove(&broker_id);
        self.tracker.remove(broker_id);
        self.stats.controlled_shutdowns += 1;
    }

    fn create_topic(&mut self) {
        if self.image.topics().count() >= MAX_TOPICS {
            return;
        }
        self.topic_counter += 1;
        let mut configs = Vec::new();
        if self.rng.random_bool(0.3) {
            configs.push((UNCLEAN.to_owned(), "true".to_owned()));
        }
        let topic = NewTopic {
            name: format!("topic-{}", self.topic_counter),
            num_partitions: self.rng.random_range(1..=4),
            replication_factor: self.rng.random_range(1..=3),
            assignments: vec![],
            configs,
        };
        let topic_id = self.new_uuid();
        let result = create_topic(&self.image, &topic, DEFAULTS, topic_id);
        if topic.replication_factor as usize > self.active_brokers() {
            let err = result.expect_err("created with too few brokers");
            assert_eq!(err.code, ErrorCode::InvalidReplicationFactor);
        } else {
            let records = self.ok("create topic", result);
            self.apply(records);
        }
    }

    fn random_topic(&mut self) -> Option<(String, Uuid)> {
        let topics: Vec<(String, Uuid)> = self.image.topics().map(|t| (t.name.clone(), t.topic_id)).collect();
        topics.choose(&mut self.rng).cloned()
    }

    fn create_partitions(&mut self) {
        let Some((name, topic_id)) = self.random_topic() else { return };
        let topic = self.image.topic_by_id(topic_id).expect("topic");
        let current = topic.partitions.len() as i32;
        let rf = topic.partitions.values().next().map_or(1, |p| p.replicas.len());
        let result = create_partitions(&self.image, &name, current + self.rng.random_range(1..=2), None);
        if rf > self.active_brokers() {
            assert_eq!(
                result.expect_err("grew with too few brokers").code,
                ErrorCode::InvalidReplicationFactor
            );
        } else {
            let records = self.ok("create partitions", result);
            self.apply(records);
        }
    }

    fn delete_topic(&mut self) {
        let Some((name, topic_id)) = self.random_topic() else { return };
        let records = self.ok("delete topic", delete_topic(&self.image, Some(&name), topic_id));
        self.apply(records);
        self.previous.retain(|(id, _), _| *id != topic_id);
    }

    /// Flips `unclean.leader.election.enable` on a topic, or as the cluster default.
    fn toggle_unclean(&mut self) {
        let value = if self.rng.random_bool(0.5) { "true" } else { "false" };
        let change = [(UNCLEAN.to_owned(), Some(value.to_owned()))];
        let records = if self.rng.random_bool(0.3) {
            self.ok("cluster config", alter_broker_configs(&self.image, None, &change, false))
        } else {
            let Some((name, _)) = self.random_topic() else { return };
            self.ok("topic config", alter_topic_configs(&self.image, &name, &change, false))
        };
        self.apply(records);
    }

    fn commit_offsets(&mut self) {
        let Some((name, topic_id)) = self.random_topic() else { return };
        let partitions = self.image.topic_by_id(topic_id).map_or(0, |t| t.partitions.len() as i32);
        let partition = self.rng.random_range(0..=partitions);
        let entry = OffsetCommitEntry {
            topic: name.clone(),
            partition,
            offset: self.rng.random_range(0..1_000),
            leader_epoch: -1,
            metadata: None,
        };
        let group = format!("group-{}", self.rng.random_range(0..3));
        let (records, errors) =
            commit_offsets(&self.image, &group, &[entry], self.now_ms, DEFAULT_OFFSET_METADATA_MAX_BYTES)
                .unwrap_or_else(|e| panic!("step {}: commit failed: {e}", self.step));
        let expected =
            if partition < partitions { ErrorCode::None } else { ErrorCode::UnknownTopicOrPartition };
        assert_eq!(errors, vec![expected]);
        self.apply(records);
        if expected == ErrorCode::None {
            assert!(self.image.committed_offset(&group, &name, partition).is_some());
        }
    }

    fn alter_partition(&mut self) {
        if !self.history.is_empty() && self.rng.random_bool(0.25) {
            let request = self.history.choose(&mut self.rng).cloned().expect("history");
            let result = alter_partition(&self.image, &request);
            assert!(result.is_err(), "step {}: stale AlterPartition accepted: {request:?}", self.step);
            self.stats.stale_replays_rejected += 1;
            return;
        }
        let led: Vec<(Uuid, i32, PartitionImage)> = self
            .image
            .topics()
            .flat_map(|t| t.partitions.iter().map(move |(i, p)| (t.topic_id, *i, p.clone())))
            .filter(|(_, _, p)| p.leader != -1 && self.running.contains(&p.leader))
            .collect();
        let Some((topic_id, partition, state)) = led.choose(&mut self.rng).cloned() else { return };
        let leader = state.leader;
        let mut new_isr = vec![leader];
        let recovering = state.leader_recovery_state == LeaderRecoveryState::Recovering;
        if !recovering || self.rng.random_bool(0.2) {
            for r in state.replicas.iter().filter(|r| **r != leader) {
                if self.rng.random_bool(0.6) {
                    new_isr.push(*r);
                }
            }
        }
        let mut request = AlterPartitionRequest {
            broker_id: leader,
            broker_epoch: self.image.broker(leader).expect("leader registered").broker_epoch,
            topic_id,
            partition,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            new_isr,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        };
        let mut expected = ErrorCode::None;
        if request.new_isr.iter().any(|r| !self.image.is_active(*r)) {
            expected = ErrorCode::IneligibleReplica;
        }
        if recovering && request.new_isr.len() > 1 {
            request.leader_recovery_state = LeaderRecoveryState::Recovering;
            expected = if expected == ErrorCode::None { ErrorCode::InvalidRequest } else { expected };
        }
        match self.rng.random_range(0..20) {
            0 => {
                request.partition_epoch -= 1;
                expected = ErrorCode::InvalidUpdateVersion;
            }
            1 => {
                request.leader_epoch -= 1;
                expected = ErrorCode::FencedLeaderEpoch;
            }
            2 => {
                if let Some(&other) = state.replicas.iter().find(|r| **r != leader) {
                    request.broker_id = other;
                    request.broker_epoch = self.image.broker(other).map_or(-1, |b| b.broker_epoch);
                    expected = if self.image.broker(other).is_some() {
                        ErrorCode::NotLeaderOrFollower
                    } else {
                        ErrorCode::StaleBrokerEpoch
                    };
                }
            }
            3 => {
                request.broker_epoch -= 1;
                expected = ErrorCode::StaleBrokerEpoch;
            }
            _ => {}
        }
        match alter_partition(&self.image, &request) {
            Ok((records, response)) => {
                assert_eq!(expected, ErrorCode::None, "step {}: accepted {request:?}", self.step);
                let changed = !records.is_empty();
                self.apply(records);
                let now = self.image.partition(topic_id, partition).expect("partition");
                assert_eq!(response.isr, now.isr);
                assert_eq!(response.partition_epoch, now.partition_epoch);
                if changed {
                    assert_eq!(now.partition_epoch, state.partition_epoch + 1);
                    self.history.push(request);
                    if self.history.len() > 64 {
                        self.history.remove(0);
                    }
                }
                self.stats.alter_ok += 1;
            }
            Err(e) => {
                assert_eq!(e.code, expected, "step {}: {request:?} → {e}", self.step);
                self.stats.alter_rejected += 1;
            }
        }
    }

    /// Invariants over the image, and against the previous step's partition states.
    fn check(&mut self) {
        let step = self.step;
        let mut current = HashMap::new();
        for topic in self.image.topics() {
            let unclean = topic
                .configs
                .get(UNCLEAN)
                .or_else(|| self.image.cluster_broker_configs().get(UNCLEAN))
                .is_some_and(|v| v == "true");
            for (&index, p) in &topic.partitions {
                let at = format!("step {step}: {}-{index} {p:?}", topic.name);
                assert!(!p.isr.is_empty(), "{at}: empty ISR");
                assert!(p.isr.iter().all(|r| p.replicas.contains(r)), "{at}: ISR ⊄ replicas");
                assert_eq!(
                    p.isr.iter().collect::<BTreeSet<_>>().len(),
                    p.isr.len(),
                    "{at}: duplicate in ISR"
                );
                if p.leader == -1 {
                    self.stats.offline_partitions_seen += 1;
                    assert!(
                        p.isr.iter().all(|r| !self.image.is_active(*r)),
                        "{at}: offline although an ISR member is active"
                    );
                    if unclean {
                        assert!(
                            p.replicas.iter().all(|r| !self.image.is_active(*r)),
                            "{at}: offline although unclean election could elect a live replica"
                        );
                    }
                } else {
                    assert!(p.isr.contains(&p.leader), "{at}: leader not in ISR");
                    assert!(self.image.is_active(p.leader), "{at}: fenced or shutting-down leader");
                    assert!(
                        p.isr.iter().all(|r| self.image.is_active(*r)),
                        "{at}: a fenced broker is in the ISR of an online partition"
                    );
                }
                if let Some(before) = self.previous.get(&(topic.topic_id, index)) {
                    assert!(p.leader_epoch >= before.leader_epoch, "{at}: leader epoch went back");
                    assert!(p.partition_epoch >= before.partition_epoch, "{at}: partition epoch went back");
                    if p.leader != before.leader {
                        assert!(p.leader_epoch > before.leader_epoch, "{at}: new leader, same leader epoch");
                    }
                    let changed = p.leader != before.leader
                        || p.isr != before.isr
                        || p.leader_recovery_state != before.leader_recovery_state;
                    if changed {
                        assert!(
                            p.partition_epoch > before.partition_epoch,
                            "{at}: changed, same partition epoch"
                        );
                    }
                    assert_eq!(p.replicas, before.replicas, "{at}: replicas changed");
                }
                current.insert((topic.topic_id, index), p.clone());
            }
        }
        self.previous = current;
    }

    fn run(mut self, steps: usize) -> Self {
        for step in 0..steps {
            self.step = step;
            self.step();
            self.check();
            if step % 100 == 99 {
                let json = serde_json::to_string(&self.image).expect("snapshot");
                let back: MetadataImage = serde_json::from_str(&json).expect("load snapshot");
                assert_eq!(back, self.image, "step {step}: snapshot round trip changed the image");
            }
        }
        let mut replayed = MetadataImage::default();
        for record in &self.log {
            replayed.replay(record);
        }
        assert_eq!(replayed, self.image, "replaying the log from scratch gives another image");
        self
    }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_operations_keep_partition_invariants() {
    let steps = env("STROM_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let seeds: Vec<u64> = match env::<u64>("STROM_SIM_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("STROM_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)).collect(),
    };
    let mut total = Stats::default();
    for seed in seeds {
        let _reporter = SeedReporter(seed);
        let sim = Sim::new(seed).run(steps);
        total.add(&sim.stats);
    }
    eprintln!("simulation totals: {total:?}");
    assert!(total.fenced_by_expiry > 0 && total.unfenced > 0 && total.controlled_shutdowns > 0);
    assert!(total.alter_ok > 0 && total.stale_replays_rejected > 0 && total.offline_partitions_seen > 0);
}

#[test]
fn same_seed_same_outcome() {
    let a = Sim::new(7).run(DEFAULT_STEPS);
    let b = Sim::new(7).run(DEFAULT_STEPS);
    assert_eq!(a.log, b.log);
    assert_eq!(a.image, b.image);
    let c = Sim::new(8).run(DEFAULT_STEPS);
    assert_ne!(a.log, c.log);
}

#[test]
fn committed_offsets_only_for_existing_partitions() {
    let sim = Sim::new(11).run(DEFAULT_STEPS);
    for group in sim.image.groups() {
        let offsets = sim.image.group_offsets(group).expect("group listed");
        assert!(!offsets.is_empty(), "group {group} kept without offsets");
        for (topic, partitions) in offsets {
            let known = sim.image.topic(topic).expect("offsets of a deleted topic kept");
            assert!(partitions.keys().all(|p| known.partitions.contains_key(p)));
        }
    }
}
