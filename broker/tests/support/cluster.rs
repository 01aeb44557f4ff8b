//! An in-process cluster for broker tests: controllers and brokers on 127.0.0.1:0 with temp dirs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use strom_broker::{Broker, BrokerConfig, BrokerHandle};
use strom_controller::clock::SkewedClock;
use strom_controller::{ControllerConfig, ControllerHandle, ControllerNode};
use tempfile::TempDir;

use super::KafkaConn;

/// How long `poll` waits.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` every 25 ms until it yields a value, failing after [`DEADLINE`].
pub async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An in-process cluster.
pub struct Cluster {
    /// Node data directories (brokers after controllers, by id).
    pub dirs: Vec<TempDir>,
    /// Controllers by id.
    pub controllers: BTreeMap<u64, ControllerHandle>,
    /// Controller gRPC addresses.
    pub controller_addrs: Vec<String>,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerHandle>,
    /// Each broker's config as started, for [`Cluster::restart_broker`].
    pub broker_configs: BTreeMap<i32, BrokerConfig>,
    /// Each controller's clock (the host's, until a test skews its wall reading).
    pub controller_clocks: BTreeMap<u64, Arc<SkewedClock>>,
    /// Each broker's clock, kept across restarts.
    pub broker_clocks: BTreeMap<i32, Arc<SkewedClock>>,
}

impl Cluster {
    /// Starts broker `id` again (after `kill` or `shutdown`) with its config and data directory, on a
    /// new Kafka port; returns once it is registered and unfenced.
    pub async fn restart_broker(&mut self, id: i32) {
        assert!(!self.brokers.contains_key(&id), "broker {id} is still running");
        let config = self.broker_configs[&id].clone();
        let clock = self.broker_clocks[&id].clone();
        self.brokers.insert(id, Broker::start_with_clock(config, clock).await.expect("broker restart"));
    }
}

/// Starts `controllers` controllers and `brokers` brokers; `tweak` adjusts each broker's config.
pub async fn start_cluster(controllers: u64, brokers: i32, tweak: impl Fn(&mut BrokerConfig)) -> Cluster {
    start_cluster_with(controllers, brokers, |_| {}, tweak).await
}

/// [`start_cluster`] with `controller_tweak` adjusting each controller's config too.
pub async fn start_cluster_with(
    controllers: u64,
    brokers: i32,
    controller_tweak: impl Fn(&mut ControllerConfig),
    tweak: impl Fn(&mut BrokerConfig),
) -> Cluster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut dirs = Vec::new();
    let mut nodes = BTreeMap::new();
    let mut controller_clocks = BTreeMap::new();
    for id in 1..=controllers {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ControllerConfig {
            node_id: id,
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            cluster_id: "test-cluster".into(),
            broker_session_timeout_ms: 1_500,
            ..ControllerConfig::default()
        };
        controller_tweak(&mut config);
        let clock = Arc::new(SkewedClock::new());
        controller_clocks.insert(id, clock.clone());
        nodes.insert(id, ControllerNode::start_with_clock(config, clock).await.expect("controller"));
        dirs.push(dir);
    }
    let voters: BTreeMap<u64, String> = nodes.iter().map(|(id, n)| (*id, n.addr().to_string())).collect();
    nodes[&1].initialize(&voters).await.expect("initialize");
    let controller_addrs: Vec<String> = voters.values().cloned().collect();
    let mut handles = BTreeMap::new();
    let mut broker_configs = BTreeMap::new();
    let mut broker_clocks = BTreeMap::new();
    for id in 1..=brokers {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = BrokerConfig {
            node_id: id,
            listener: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            controllers: controller_addrs.clone(),
            broker_heartbeat_interval_ms: 100,
            ..BrokerConfig::default()
        };
        tweak(&mut config);
        broker_configs.insert(id, config.clone());
        let clock = Arc::new(SkewedClock::new());
        broker_clocks.insert(id, clock.clone());
        handles.insert(id, Broker::start_with_clock(config, clock).await.expect("broker"));
        dirs.push(dir);
    }
    Cluster {
        dirs,
        controllers: nodes,
        controller_addrs,
        brokers: handles,
        broker_configs,
        controller_clocks,
        broker_clocks,
    }
}

/// A topic name.
pub fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// Metadata v12 for one topic.
pub async fn metadata(conn: &mut KafkaConn, topic: &str) -> MetadataResponse {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(name(topic)))]))
        .with_allow_auto_topic_creation(false);
    let ResponseKind::Metadata(response) =
        conn.send(ApiKey::Metadata, 12, &RequestKind::Metadata(request)).await
    else {
        panic!("wrong response");
    };
    response
}
