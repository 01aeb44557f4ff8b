//! The controller's Prometheus metrics, computed at scrape time: Raft state of this node (term,
//! commit and applied index, leader) and, on the active controller, cluster-wide health (offline
//! partitions, live and fenced brokers, each broker's heartbeat age). Names and meanings are in
//! `docs/metrics.md`.

use openraft::ServerState;

use crate::broker_api::BrokerApiService;
use crate::node::Controller;
use crate::telemetry::{Exposition, Kind, Registry};

/// Registers the controller's families on `registry`.
pub fn register(registry: &Registry, controller: Controller, broker_api: BrokerApiService) {
    registry.add_collector(Box::new(move |expo| collect(&controller, &broker_api, expo)));
}

/// Ready when this node is a member of a quorum that has a leader.
pub fn readiness(controller: &Controller) -> Result<(), String> {
    let metrics = controller.metrics();
    match metrics.current_leader {
        Some(_) if metrics.state != ServerState::Shutdown => Ok(()),
        Some(_) => Err("shutting down".into()),
        None => Err("no quorum leader known".into()),
    }
}

fn collect(controller: &Controller, broker_api: &BrokerApiService, expo: &mut Exposition) {
    let quorum = controller.describe();
    let leader = quorum.leader_id == Some(quorum.node_id);
    expo.single(
        "strom_active_controller",
        Kind::Gauge,
        "1 on the active controller (the Raft leader), 0 on the others.",
        if leader { 1.0 } else { 0.0 },
    );
    expo.single(
        "strom_raft_term",
        Kind::Gauge,
        "Current Raft term seen by this controller.",
        quorum.term as f64,
    );
    expo.single(
        "strom_raft_commit_index",
        Kind::Gauge,
        "Highest metadata-log index this controller knows committed.",
        quorum.commit_index as f64,
    );
    expo.single(
        "strom_raft_applied_index",
        Kind::Gauge,
        "Highest metadata-log index applied to this controller's image.",
        quorum.last_applied as f64,
    );
    expo.single(
        "strom_raft_last_log_index",
        Kind::Gauge,
        "Last index in this controller's Raft log.",
        quorum.last_log_index as f64,
    );
    expo.single(
        "strom_raft_leader",
        Kind::Gauge,
        "Node id of the Raft leader as this controller sees it; -1 when none is known.",
        quorum.leader_id.map_or(-1.0, |id| id as f64),
    );
    let image = controller.image();
    let live = |broker: i32| image.broker(broker).is_some_and(|b| !b.fenced);
    let offline = if leader {
        image.topics().flat_map(|t| t.partitions.values()).filter(|p| p.leader < 0 || !live(p.leader)).count()
    } else {
        0
    };
    expo.single(
        "strom_offline_partitions",
        Kind::Gauge,
        "Partitions without a live leader (counted by the active controller; 0 on the others).",
        offline as f64,
    );
    if !leader {
        return;
    }
    let (fenced, active) =
        image.brokers().fold((0, 0), |(f, a), b| if b.fenced { (f + 1, a) } else { (f, a + 1) });
    expo.single(
        "strom_active_brokers",
        Kind::Gauge,
        "Registered brokers that are not fenced.",
        f64::from(active),
    );
    expo.single(
        "strom_fenced_brokers",
        Kind::Gauge,
        "Registered brokers fenced by the controller (no heartbeat within the session timeout, or shut down).",
        f64::from(fenced),
    );
    expo.single("strom_topics", Kind::Gauge, "Topics in the cluster.", image.topics().count() as f64);
    expo.single(
        "strom_global_partitions",
        Kind::Gauge,
        "Partitions in the cluster.",
        image.topics().map(|t| t.partitions.len()).sum::<usize>() as f64,
    );
    let mut family = expo.family(
        "strom_broker_last_heartbeat_age_seconds",
        Kind::Gauge,
        "Seconds since the active controller last heard each registered broker (+Inf: not since it became active).",
    );
    for (broker, age_ms) in broker_api.heartbeat_ages_ms() {
        let id = broker.to_string();
        family.sample(&[("broker", &id)], age_ms.map_or(f64::INFINITY, |ms| ms as f64 / 1000.0));
    }
}
