//! One controller node: config → sled store → gRPC listener → openraft, and the handle to use it.
//!
//! ```text
//!  ControllerConfig ─► sled db <data_dir>/raft ─► LogStore + StateMachineStore
//!                   ─► TcpListener (bound first, so port 0 works)
//!                   ─► Raft::new ─► tonic server: RaftService + ControllerAdmin
//!                   ─► ControllerHandle (write, image, subscribe, describe, membership, shutdown)
//! ```
//!
//! A fresh cluster is initialized by the voter with the lowest id in `voters`, and only when its store
//! is empty; every other start recovers from disk.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, ChangeMembers, RaftMetrics, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use strom_proto::broker_api::broker_api_server::BrokerApiServer;
use strom_proto::controller::controller_admin_server::ControllerAdminServer;
use strom_proto::raft::raft_service_server::RaftServiceServer;
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::broker_api::{BrokerApiConfig, BrokerApiService};
use crate::clock::{Clock, SystemClock};
use crate::leader_rebalance::{self, LeaderRebalanceSettings};
use crate::metadata::{MetadataImage, MetadataRecord};
use crate::raft::admin_service::AdminService;
use crate::raft::service::RaftServiceImpl;
use crate::raft::{
    AppliedBatch, AppliedImage, LogStore, MetadataBatch, Network, NodeId, Raft, StateMachineStore,
};

/// How long `start` retries opening a sled database still locked by a node that is shutting down.
const OPEN_RETRY: Duration = Duration::from_secs(10);

/// How long a stopping controller lets in-flight gRPC calls finish.
const SERVER_DRAIN: Duration = Duration::from_millis(500);

/// How often the active controller looks for expired broker sessions.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Largest gRPC message a controller accepts (snapshot chunks, big append batches).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Configuration of one controller node (TOML-friendly; every field has a default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerConfig {
    /// This controller's Raft node id.
    pub node_id: u64,
    /// Address the gRPC listener binds; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the HTTP endpoint (`/metrics`, `/health/live`, `/health/ready`) binds; none when unset.
    /// The `strom` binary defaults it to `127.0.0.1:9465`.
    pub metrics_listen: Option<SocketAddr>,
    /// Data directory; the Raft store is the sled database in `<data_dir>/raft`.
    pub data_dir: PathBuf,
    /// Initial voters, node id → gRPC `host:port`. The lowest id initializes the cluster when its
    /// store is empty; empty means "wait to be initialized or added".
    #[serde(with = "voters_serde")]
    pub voters: BTreeMap<u64, String>,
    /// Leader heartbeat interval; also the deadline of one AppendEntries RPC.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_every_logs: u64,
    /// Log entries kept before the snapshot's last index when the log is purged.
    pub max_logs_kept_after_purge: u64,
    /// How long a write may wait to commit before it fails with `NoQuorum`.
    pub write_timeout_ms: u64,
    /// sled page cache size in bytes.
    pub cache_capacity_bytes: u64,
    /// The cluster id brokers must present (`cluster.id`, as `kafka-storage format` sets it).
    pub cluster_id: String,
    /// `broker.session.timeout.ms`: a broker without heartbeats this long is fenced.
    pub broker_session_timeout_ms: u64,
    /// `auto.leader.rebalance.enable`: the active controller moves leadership back to preferred
    /// replicas every `leader_imbalance_check_interval_ms`.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms: time between leader-imbalance checks.
    pub leader_imbalance_check_interval_ms: u64,
    /// `leader.imbalance.per.broker.percentage`: the share of a broker's preferred partitions led
    /// elsewhere above which they are rebalanced.
    pub leader_imbalance_per_broker_percentage: u32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 9093)),
            metrics_listen: None,
            data_dir: PathBuf::from("data/controller"),
            voters: BTreeMap::new(),
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 200,
            election_timeout_max_ms: 400,
            snapshot_every_logs: 10_000,
            max_logs_kept_after_purge: 1_000,
            write_timeout_ms: 2_000,
            cache_capacity_bytes: 64 * 1024 * 1024,
            cluster_id: "strom-cluster".into(),
            broker_session_timeout_ms: 9_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_ms: 300_000,
            leader_imbalance_per_broker_percentage:
                crate::metadata::ops::leader_balance::DEFAULT_LEADER_IMBALANCE_PER_BROKER_PERCENTAGE,
        }
    }
}

impl ControllerConfig {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ControllerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ControllerError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ControllerError::Config(format!("{}: {e}", path.display())))
    }

    /// The rebalancing task's settings, `None` when `auto_leader_rebalance_enable` is off. A zero
    /// interval is a config error.
    fn leader_rebalance(&self) -> Result<Option<LeaderRebalanceSettings>, ControllerError> {
        if !self.auto_leader_rebalance_enable {
            return Ok(None);
        }
        if self.leader_imbalance_check_interval_ms == 0 {
            return Err(ControllerError::Config(
                "leader_imbalance_check_interval_ms must be positive".into(),
            ));
        }
        Ok(Some(LeaderRebalanceSettings {
            check_interval: Duration::from_millis(self.leader_imbalance_check_interval_ms),
            imbalance_percentage: self.leader_imbalance_per_broker_percentage,
        }))
    }

    fn raft_config(&self) -> Result<openraft::Config, ControllerError> {
        let config = openraft::Config {
            cluster_name: "strom".into(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every_logs),
            max_in_snapshot_log_to_keep: self.max_logs_kept_after_purge,
            ..Default::default()
        };
        config.validate().map_err(|e| ControllerError::Config(e.to_string()))
    }
}

/// `voters` as a TOML table with string keys (`[voters]` `1 = "127.0.0.1:9093"`).
mod voters_serde {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        voters: &BTreeMap<u64, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<String, &String> =
            voters.iter().map(|(id, addr)| (id.to_string(), addr)).collect();
        text.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<u64, String>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(deserializer)?;
        text.into_iter()
            .map(|(id, addr)| {
                id.parse().map(|id| (id, addr)).map_err(|_| D::Error::custom(format!("voter id `{id}`")))
            })
            .collect()
    }
}

/// Parses `1=host:port,2=host:port` into a voter map.
pub fn parse_voters(text: &str) -> Result<BTreeMap<u64, String>, ControllerError> {
    let mut voters = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| ControllerError::Config(format!("voter `{part}` is not ID=HOST:PORT")))?;
        let id = id.trim().parse().map_err(|_| ControllerError::Config(format!("voter id `{id}`")))?;
        voters.insert(id, addr.trim().to_string());
    }
    Ok(voters)
}

/// Errors of the controller node.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// This node is not the leader; retry on the leader (unknown while an election runs).
    #[error("not the controller leader (leader: {leader_id:?} at {leader_addr:?})")]
    NotLeader {
        /// The leader's node id, if known.
        leader_id: Option<u64>,
        /// The leader's gRPC address, if known.
        leader_addr: Option<String>,
    },
    /// No quorum acknowledged the write in time. It may still commit later.
    #[error("no controller quorum: not committed within {waited_ms} ms")]
    NoQuorum {
        /// How long the write waited.
        waited_ms: u64,
    },
    /// The config is invalid.
    #[error("invalid controller config: {0}")]
    Config(String),
    /// A file or socket operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sled database could not be opened.
    #[error("opening the Raft store {path}")]
    OpenStore {
        /// The database directory.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// sled failed outside openraft's calls (the final flush).
    #[error("sled")]
    Sled(#[from] sled::Error),
    /// The Raft store failed.
    #[error("Raft storage")]
    Storage(#[source] Box<openraft::StorageError<NodeId>>),
    /// The Raft node stopped (shut down or a fatal storage error).
    #[error("Raft node stopped")]
    Fatal(#[source] Box<openraft::error::Fatal<NodeId>>),
    /// The membership change was refused.
    #[error("membership change refused")]
    Membership(#[source] Box<openraft::error::ChangeMembershipError<NodeId>>),
    /// The cluster could not be initialized.
    #[error("initializing the quorum")]
    Initialize(#[source] Box<InitializeError<NodeId, BasicNode>>),
    /// The gRPC server failed.
    #[error("gRPC server")]
    Server(#[from] tonic::transport::Error),
}

/// Boxed `From` conversions: openraft's errors are large and would bloat every `Result`.
macro_rules! boxed_from {
    ($($variant:ident: $ty:ty),* $(,)?) => {$(
        impl From<$ty> for ControllerError {
            fn from(err: $ty) -> Self {
                Self::$variant(Box::new(err))
            }
        }
    )*};
}

boxed_from!(
    Storage: openraft::StorageError<NodeId>,
    Fatal: openraft::error::Fatal<NodeId>,
    Membership: openraft::error::ChangeMembershipError<NodeId>,
    Initialize: InitializeError<NodeId, BasicNode>,
);

/// One voter or learner as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterState {
    /// Node id.
    pub node_id: u64,
    /// gRPC address.
    pub addr: String,
    /// Last log index known replicated on it (only the leader knows).
    pub matched_index: Option<u64>,
    /// Leader's last log index minus `matched_index` (only the leader knows).
    pub lag: Option<u64>,
}

/// The quorum as one node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    /// The node that answered.
    pub node_id: u64,
    /// `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub state: String,
    /// Current leader, if known.
    pub leader_id: Option<u64>,
    /// Current leader's address, if known.
    pub leader_addr: Option<String>,
    /// Current term.
    pub term: u64,
    /// Highest log index known committed.
    pub commit_index: u64,
    /// Highest log index applied to this node's image.
    pub last_applied: u64,
    /// Last index in this node's log.
    pub last_log_index: u64,
    /// Voters of the current membership (both configs while a change is in progress).
    pub voters: Vec<VoterState>,
    /// Learners (non-voting members).
    pub learners: Vec<VoterState>,
}

/// A running controller's API. Cheap to clone; every clone talks to the same node.
#[derive(Clone)]
pub struct Controller {
    node_id: NodeId,
    addr: SocketAddr,
    raft: Raft,
    applied: Arc<AppliedImage>,
    committed_index: Arc<AtomicU64>,
    write_timeout: Duration,
    election_timeout_max: Duration,
}

impl Controller {
    /// The bound gRPC address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The openraft node, for callers that need more than this API.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Commits `records` as one batch and returns its Raft log index.
    ///
    /// Durability: on `Ok`, the batch is flushed to disk on a majority of voters and applied to this
    /// node's image. Fails with `NotLeader` on a follower and with `NoQuorum` when no majority
    /// answered within `write_timeout_ms` (or has not for longer than an election timeout); after
    /// `NoQuorum` the batch may still commit later.
    pub async fn write(&self, records: Vec<MetadataRecord>) -> Result<u64, ControllerError> {
        self.check_leader()?;
        let started = Instant::now();
        match tokio::time::timeout(self.write_timeout, self.raft.client_write(MetadataBatch { records }))
            .await
        {
            Err(_elapsed) => {
                Err(ControllerError::NoQuorum { waited_ms: started.elapsed().as_millis() as u64 })
            }
            Ok(Ok(response)) => Ok(response.log_id.index),
            Ok(Err(err)) => Err(self.client_write_error(err)),
        }
    }

    /// `NotLeader` unless this node leads; `NoQuorum` when it leads but no majority acknowledged it
    /// for longer than the maximum election timeout.
    fn check_leader(&self) -> Result<(), ControllerError> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.current_leader != Some(self.node_id) {
            return Err(self.not_leader(&metrics));
        }
        match metrics.millis_since_quorum_ack {
            Some(ms) if Duration::from_millis(ms) > self.election_timeout_max => {
                Err(ControllerError::NoQuorum { waited_ms: ms })
            }
            _ => Ok(()),
        }
    }

    fn not_leader(&self, metrics: &RaftMetrics<NodeId, BasicNode>) -> ControllerError {
        let leader_id = metrics.current_leader.filter(|id| *id != self.node_id);
        let leader_addr = leader_id.and_then(|id| {
            metrics.membership_config.membership().get_node(&id).map(|node| node.addr.clone())
        });
        ControllerError::NotLeader { leader_id, leader_addr }
    }

    fn client_write_error(
        &self,
        err: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>,
    ) -> ControllerError {
        match err {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => ControllerError::NotLeader {
                leader_id: forward.leader_id,
                leader_addr: forward.leader_node.map(|node| node.addr),
            },
            RaftError::APIError(ClientWriteError::ChangeMembershipError(err)) => err.into(),
            RaftError::Fatal(fatal) => fatal.into(),
        }
    }

    /// The image as of the last applied entry.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.applied.image()
    }

    /// The image and the log index it reflects, read atomically (for watch streams).
    pub fn snapshot(&self) -> (Arc<MetadataImage>, u64) {
        self.applied.snapshot()
    }

    /// Every applied log entry from now on: `(log index, records)`, consecutive indexes; a gap or
    /// `Lagged` means a snapshot was installed or the receiver fell behind: re-read [`Self::image`].
    pub fn subscribe(&self) -> broadcast::Receiver<AppliedBatch> {
        self.applied.subscribe()
    }

    /// Highest log index applied to this node's image (0 when none).
    pub fn applied_index(&self) -> u64 {
        self.applied.applied_index()
    }

    /// Changes whenever the applied index grows.
    pub fn watch_applied(&self) -> watch::Receiver<u64> {
        self.applied.watch_applied()
    }

    /// openraft's metrics of this node.
    pub fn metrics(&self) -> RaftMetrics<NodeId, BasicNode> {
        self.raft.metrics().borrow().clone()
    }

    /// Leader, term, commit and applied index, and each member's replication progress.
    pub fn describe(&self) -> QuorumState {
        let metrics = self.metrics();
        let membership = metrics.membership_config.membership();
        let last_log_index = metrics.last_log_index.unwrap_or(0);
        let member = |node_id: u64| {
            let matched_index = metrics
                .replication
                .as_ref()
                .and_then(|replication| replication.get(&node_id))
                .map(|matched| matched.map_or(0, |log_id| log_id.index));
            VoterState {
                node_id,
                addr: membership.get_node(&node_id).map(|node| node.addr.clone()).unwrap_or_default(),
                matched_index,
                lag: matched_index.map(|matched| last_log_index.saturating_sub(matched)),
            }
        };
        let voter_ids: BTreeSet<u64> = membership.voter_ids().collect();
        let leader_addr =
            metrics.current_leader.and_then(|id| membership.get_node(&id)).map(|node| node.addr.clone());
        QuorumState {
            node_id: self.node_id,
            state: format!("{:?}", metrics.state),
            leader_id: metrics.current_leader,
            leader_addr,
            term: metrics.current_term,
            commit_index: self.committed_index.load(Ordering::Relaxed),
            last_applied: metrics.last_applied.map_or(0, |log_id| log_id.index),
            last_log_index,
            voters: voter_ids.iter().map(|id| member(*id)).collect(),
            learners: membership.learner_ids().map(member).collect(),
        }
    }

    /// True when this node is the leader.
    pub fn is_leader(&self) -> bool {
        self.metrics().state == ServerState::Leader
    }

    /// Initializes a fresh cluster with `voters` (node id → gRPC address). Call on one node only.
    pub async fn initialize(&self, voters: &BTreeMap<u64, String>) -> Result<(), ControllerError> {
        let members: BTreeMap<u64, BasicNode> =
            voters.iter().map(|(id, addr)| (*id, BasicNode::new(addr.clone()))).collect();
        self.raft.initialize(members).await.map_err(|err| match err {
            RaftError::APIError(err) => err.into(),
            RaftError::Fatal(fatal) => fatal.into(),
        })
    }

    /// Adds node `node_id` at `addr` as a voter: first as a learner (waits until it caught up), then
    /// a joint-consensus membership change. Leader only. Returns the membership entry's log index.
    pub async fn add_voter(&self, node_id: u64, addr: &str) -> Result<u64, ControllerError> {
        self.check_leader()?;
        let timeout = self.membership_timeout();
        let started = Instant::now();
        let learner = self.raft.add_learner(node_id, BasicNode::new(addr), true);
        tokio::time::timeout(timeout, learner)
            .await
            .map_err(|_| ControllerError::NoQuorum { waited_ms: started.elapsed().as_millis() as u64 })?
            .map_err(|err| self.client_write_error(err))?;
        self.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id]))).await
    }

    /// Removes voter `node_id` from the quorum (it stops being a member). Leader only. Returns the
    /// membership entry's log index.
    pub async fn remove_voter(&self, node_id: u64) -> Result<u64, ControllerError> {
        self.check_leader()?;
        self.change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([node_id]))).await
    }

    async fn change_membership(
        &self,
        change: ChangeMembers<NodeId, BasicNode>,
    ) -> Result<u64, ControllerError> {
        let started = Instant::now();
        let response =
            tokio::time::timeout(self.membership_timeout(), self.raft.change_membership(change, false))
                .await
                .map_err(|_| ControllerError::NoQuorum { waited_ms: started.elapsed().as_millis() as u64 })?
                .map_err(|err| self.client_write_error(err))?;
        Ok(response.log_id.index)
    }

    fn membership_timeout(&self) -> Duration {
        self.write_timeout * 10
    }
}

/// A running controller node: its [`Controller`] API plus the server task, until [`Self::shutdown`].
pub struct ControllerHandle {
    controller: Controller,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    stop_server: oneshot::Sender<()>,
    db: sled::Db,
    expiry: JoinHandle<()>,
    rebalance: Option<JoinHandle<()>>,
    broker_api: BrokerApiService,
    metrics_http: Option<(SocketAddr, JoinHandle<()>)>,
}

impl Deref for ControllerHandle {
    type Target = Controller;

    fn deref(&self) -> &Controller {
        &self.controller
    }
}

impl ControllerHandle {
    /// Address of the HTTP endpoint (`/metrics`, `/health/*`), when one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_http.as_ref().map(|(addr, _)| *addr)
    }

    /// A cloneable API handle to this node.
    pub fn controller(&self) -> Controller {
        self.controller.clone()
    }

    /// Stops Raft and the gRPC server and flushes the store. The data directory can be reopened
    /// (by `ControllerNode::start`) once this returns.
    pub async fn shutdown(self) -> Result<(), ControllerError> {
        let Self { controller, server, stop_server, db, expiry, rebalance, broker_api, metrics_http } = self;
        expiry.abort();
        if let Some((_, task)) = metrics_http {
            task.abort();
        }
        if let Some(rebalance) = rebalance {
            rebalance.abort();
        }
        broker_api.stop();
        let _ = stop_server.send(());
        let raft_result = controller.raft.shutdown().await;
        if let Err(err) = raft_result {
            tracing::warn!(%err, "Raft core did not stop cleanly");
        }
        // Graceful shutdown waits for open streams (brokers' watch streams never end by themselves):
        // give in-flight calls a moment, then drop the connections.
        let abort = server.abort_handle();
        match tokio::time::timeout(SERVER_DRAIN, server).await {
            Ok(Ok(result)) => result?,
            Ok(Err(err)) if err.is_cancelled() => {}
            Ok(Err(err)) => tracing::warn!(%err, "controller gRPC server task failed"),
            Err(_) => abort.abort(),
        }
        db.flush_async().await?;
        tracing::info!(node_id = controller.node_id, "controller stopped");
        Ok(())
    }
}

/// Starts controller nodes.
#[derive(Debug)]
pub struct ControllerNode;

impl ControllerNode {
    /// Opens the store, binds the listener, starts Raft and serves `RaftService` and
    /// `ControllerAdmin`; initializes the cluster if this node has the lowest id in `config.voters`
    /// and its store is empty.
    pub async fn start(config: ControllerConfig) -> Result<ControllerHandle, ControllerError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`start`](Self::start) with an injected clock (broker sessions are timed on its monotonic
    /// reading).
    pub async fn start_with_clock(
        config: ControllerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<ControllerHandle, ControllerError> {
        let raft_config = Arc::new(config.raft_config()?);
        let rebalance_settings = config.leader_rebalance()?;
        let db = open_db(&config.data_dir.join("raft"), config.cache_capacity_bytes).await?;
        let log_store = LogStore::open(&db)
            .map_err(|source| ControllerError::OpenStore { path: config.data_dir.join("raft"), source })?;
        let fresh = log_store.is_empty();
        let committed_index = log_store.committed_index();
        let state_machine = StateMachineStore::open(&db)?;
        let applied = state_machine.applied();

        let listener =
            tokio::net::TcpListener::bind(config.listen).await.map_err(|source| ControllerError::Io {
                context: format!("binding the controller listener {}", config.listen),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ControllerError::Io {
            context: "reading the listener address".into(),
            source,
        })?;

        let network = Network::new(config.node_id);
        let raft = Raft::new(config.node_id, raft_config, network, log_store, state_machine)
            .await
            .map_err(ControllerError::from)?;
        let controller = Controller {
            node_id: config.node_id,
            addr,
            raft: raft.clone(),
            applied,
            committed_index,
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            election_timeout_max: Duration::from_millis(config.election_timeout_max_ms),
        };

        let broker_api = BrokerApiService::new(
            controller.clone(),
            BrokerApiConfig {
                cluster_id: config.cluster_id.clone(),
                session_timeout_ms: i64::try_from(config.broker_session_timeout_ms).unwrap_or(i64::MAX),
            },
            clock,
        );
        let expiry = tokio::spawn(broker_api.clone().run_expiry(SESSION_CHECK_INTERVAL));
        let rebalance = rebalance_settings
            .map(|settings| tokio::spawn(leader_rebalance::run(broker_api.clone(), settings)));
        let (stop_server, stop_rx) = oneshot::channel();
        let router = tonic::transport::Server::builder()
            .add_service(
                RaftServiceServer::new(RaftServiceImpl::new(raft))
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                ControllerAdminServer::new(AdminService::new(controller.clone()))
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                BrokerApiServer::new(broker_api.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            );
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            let _ = stop_rx.await;
        }));

        let first_voter = config.voters.keys().next().copied();
        if fresh && first_voter == Some(config.node_id) {
            tracing::info!(node_id = config.node_id, voters = ?config.voters, "initializing the controller quorum");
            controller.initialize(&config.voters).await?;
        }
        let metrics_http = match config.metrics_listen {
            Some(listen) => Some(serve_metrics(listen, &controller, &broker_api).await?),
            None => None,
        };
        tracing::info!(node_id = config.node_id, %addr, fresh, "controller started");
        Ok(ControllerHandle {
            controller,
            server,
            stop_server,
            db,
            expiry,
            rebalance,
            broker_api,
            metrics_http,
        })
    }
}

/// Binds the HTTP endpoint (`/metrics`, `/health/*`) of a controller and serves it.
async fn serve_metrics(
    listen: SocketAddr,
    controller: &Controller,
    broker_api: &BrokerApiService,
) -> Result<(SocketAddr, JoinHandle<()>), ControllerError> {
    let io = |context: String| move |source| ControllerError::Io { context, source };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(io(format!("binding the metrics listener {listen}")))?;
    let addr = listener.local_addr().map_err(io("reading the metrics listener address".into()))?;
    let registry = crate::telemetry::Registry::new();
    crate::metrics::register(&registry, controller.clone(), broker_api.clone());
    let ready_controller = controller.clone();
    let endpoints = crate::telemetry::HttpEndpoints {
        registry,
        ready: Arc::new(move || crate::metrics::readiness(&ready_controller)),
    };
    // The handle aborts the task on shutdown; the watch sender only has to outlive the server.
    let (keep, stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let _keep = keep;
        crate::telemetry::serve(listener, endpoints, stop).await;
    });
    Ok((addr, task))
}

/// Opens the sled database at `path`, retrying while a node of this process that is shutting down
/// still holds its lock.
async fn open_db(path: &Path, cache_capacity: u64) -> Result<sled::Db, ControllerError> {
    let deadline = Instant::now() + OPEN_RETRY;
    loop {
        // No background flusher: the Raft store flushes before it acknowledges (log append, vote), and
        // a periodic fsync every 500 ms (sled's default) only adds journal commits that stall the
        // brokers' log writes on a shared disk.
        match sled::Config::new().path(path).cache_capacity(cache_capacity).flush_every_ms(None).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(err))
                if err.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => return Err(ControllerError::OpenStore { path: path.to_path_buf(), source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_toml() {
        let config = ControllerConfig {
            voters: parse_voters("1=127.0.0.1:9093, 2=127.0.0.1:9094").expect("voters"),
            ..ControllerConfig::default()
        };
        let text = toml::to_string(&config).expect("encode");
        let back: ControllerConfig = toml::from_str(&text).expect("decode");
        assert_eq!(back, config);
        let partial: ControllerConfig =
            toml::from_str("node_id = 3\n[voters]\n3 = \"h:1\"\n").expect("partial config");
        assert_eq!(partial.node_id, 3);
        assert_eq!(partial.voters.get(&3).map(String::as_str), Some("h:1"));
        assert_eq!(partial.heartbeat_interval_ms, ControllerConfig::default().heartbeat_interval_ms);
        assert!(parse_voters("1").is_err());
        assert!(parse_voters("x=h:1").is_err());
    }

    #[test]
    fn leader_rebalance_settings() {
        let defaults = ControllerConfig::default();
        let settings = defaults.leader_rebalance().expect("valid").expect("enabled by default");
        assert_eq!(settings.check_interval, Duration::from_secs(300));
        assert_eq!(settings.imbalance_percentage, 10);
        let off = ControllerConfig { auto_leader_rebalance_enable: false, ..defaults.clone() };
        assert_eq!(off.leader_rebalance().expect("valid"), None);
        let zero = ControllerConfig { leader_imbalance_check_interval_ms: 0, ..defaults };
        assert!(zero.leader_rebalance().is_err());
    }
}
