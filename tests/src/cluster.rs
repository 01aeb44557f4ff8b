//! [`ClusterProcesses`]: a whole Strom cluster as child processes — N controllers (a Raft quorum) and
//! M brokers that register with them — each on its own data directory under one temporary root, so
//! tests can kill -9 and restart single nodes exactly as an operator's machines would fail.
//!
//! ```text
//!  free ports P1..PN ──► strom controller --node-id i --listen 127.0.0.1:Pi --voters 1=…P1,…,N=…PN
//!                          │ stdout: "strom controller ready: grpc=<addr> node_id=<id>"
//!  all ready ──────────► strom broker --node-id j --listener 127.0.0.1:0 --controllers P1,…,PN
//!                          │ stdout: "strom broker ready: kafka=<addr> node_id=<id> data_dir=<dir>"
//!  all ready ──────────► strom cluster describe --output json, until every broker is unfenced in
//!                          the quorum leader's image (a broker registers fenced, heartbeats unfence it)
//!  test ◄── bootstrap(), kill9_broker/controller(), restart_controller(), quorum_leader()
//!                          (strom cluster describe-quorum --output json)
//! ```
//!
//! Controller addresses must be known before any controller starts (they are the voter list), so
//! ports are picked by binding port 0 and releasing it; if another process takes one in between, the
//! controller exits and the whole start is retried on fresh ports. Dropping the cluster kills every
//! node (SIGKILL) and removes the data.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::node::{NodeProcess, Startup};
use crate::{READY_TIMEOUT, parse_ready_line, strom_bin, wait_until};

/// `cluster.id` the controllers are started with.
pub const CLUSTER_ID: &str = "test";

/// `broker.session.timeout.ms` of the controllers: a broker silent this long is fenced.
pub const BROKER_SESSION_TIMEOUT: Duration = Duration::from_millis(2000);

/// `broker.heartbeat.interval.ms` of the brokers.
pub const BROKER_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);

/// Raft election timeout range of the controllers, as `strom controller` takes it.
pub const ELECTION_TIMEOUT_MS: &str = "200..400";

/// Stdout prefix of a broker that has registered and serves Kafka.
pub const BROKER_READY_PREFIX: &str = "strom broker ready: ";

/// Stdout prefix of a controller whose gRPC listener is bound.
pub const CONTROLLER_READY_PREFIX: &str = "strom controller ready: ";

/// How long one `strom cluster describe-quorum` may take.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Cluster starts tried before giving up (a controller fails to start when a picked port was taken
/// meanwhile).
const START_ATTEMPTS: usize = 3;

/// The quorum as `strom cluster describe-quorum --output json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The controller whose view this is (the leader's, when the asked node could reach it).
    pub answered_by: u64,
    /// The leader, if the answering node knows one.
    pub leader_id: Option<u64>,
    /// Raft term.
    pub term: u64,
    /// Raft commit index.
    pub commit_index: u64,
    /// Voters with their replication lag (known only to the leader).
    pub voters: Vec<VoterStatus>,
}

/// One voter of [`QuorumStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterStatus {
    /// Controller node id.
    pub node_id: u64,
    /// Log entries behind the leader, if the answering node is the leader.
    pub lag: Option<u64>,
}

impl QuorumStatus {
    /// Voter node ids.
    pub fn voter_ids(&self) -> BTreeSet<u64> {
        self.voters.iter().map(|v| v.node_id).collect()
    }

    /// True if this is the leader's own view (so the leader is alive and knows it leads).
    pub fn from_leader(&self) -> bool {
        self.leader_id == Some(self.answered_by)
    }
}

/// A broker in a controller's metadata image, as `strom cluster describe --output json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredBroker {
    /// Broker id.
    pub broker_id: i32,
    /// Fenced: never heartbeat yet, or its session expired; it may not lead or join an ISR.
    pub fenced: bool,
    /// In controlled shutdown.
    pub in_controlled_shutdown: bool,
}

impl RegisteredBroker {
    /// Eligible to lead and to be placed on: neither fenced nor shutting down.
    pub fn is_active(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }
}

struct Controller {
    addr: SocketAddr,
    /// Metrics endpoint: port 0 until the first ready line, then kept across restarts.
    metrics: SocketAddr,
    data_dir: PathBuf,
    voters: String,
    process: Option<NodeProcess>,
}

struct Broker {
    addr: SocketAddr,
    /// Metrics endpoint: port 0 until the first ready line, then kept across restarts.
    metrics: SocketAddr,
    data_dir: PathBuf,
    process: Option<NodeProcess>,
}

/// Extra settings for a cluster's brokers.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Broker config file contents (TOML, `BrokerConfig` keys) given to every broker with `--config`.
    pub broker_config: String,
}

/// Controllers and brokers as child processes; see the module docs.
pub struct ClusterProcesses {
    controllers: BTreeMap<u64, Controller>,
    brokers: BTreeMap<i32, Broker>,
    options: ClusterOptions,
    /// Every node's data directory lives under this; removed after the nodes are killed (Drop).
    root: TempDir,
}

/// Why one start attempt failed.
struct StartFailure {
    node: String,
    reason: String,
}

impl ClusterProcesses {
    /// Starts `controllers` controllers (node ids 1..=N; 1 initializes the quorum) and then `brokers`
    /// brokers (node ids 1..=M), and returns once every node printed its ready line and the quorum
    /// leader's image shows every broker unfenced. Panics (with
    /// the failing node's stderr) if that does not happen within [`START_ATTEMPTS`] attempts.
    pub fn start(controllers: usize, brokers: usize) -> Self {
        Self::start_with(controllers, brokers, ClusterOptions::default())
    }

    /// [`start`](Self::start) with broker settings.
    pub fn start_with(controllers: usize, brokers: usize, options: ClusterOptions) -> Self {
        assert!(controllers > 0, "a cluster needs at least one controller");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            match Self::try_start(controllers, brokers, options.clone()) {
                Ok(cluster) => return cluster,
                Err(failure) => {
                    eprintln!(
                        "cluster start attempt {attempt} failed at {}: {}",
                        failure.node, failure.reason
                    );
                    failures.push(format!("attempt {attempt}: {}: {}", failure.node, failure.reason));
                }
            }
        }
        panic!("cluster did not start in {START_ATTEMPTS} attempts:\n{}", failures.join("\n"))
    }

    fn try_start(controllers: usize, brokers: usize, options: ClusterOptions) -> Result<Self, StartFailure> {
        let root = tempfile::Builder::new().prefix("strom-cluster-").tempdir().expect("create cluster dir");
        let ports = free_ports(controllers);
        let voters = ports
            .iter()
            .enumerate()
            .map(|(i, port)| format!("{}=127.0.0.1:{port}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Self { controllers: BTreeMap::new(), brokers: BTreeMap::new(), options, root };
        for (i, port) in ports.iter().enumerate() {
            let id = i as u64 + 1;
            let data_dir = cluster.root.path().join(format!("controller-{id}"));
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            let metrics = any_port();
            let process = spawn_controller(id, addr, metrics, &data_dir, &voters);
            let controller =
                Controller { addr, metrics, data_dir, voters: voters.clone(), process: Some(process) };
            cluster.controllers.insert(id, controller);
        }
        for controller in cluster.controllers.values_mut() {
            let line =
                wait_node(controller.process.as_mut().expect("just spawned"), CONTROLLER_READY_PREFIX)?;
            controller.metrics = parse_metrics_addr(&line).unwrap_or(controller.metrics);
        }
        let controller_addrs = cluster.controller_addrs().join(",");
        let data_root = cluster.root.path().to_path_buf();
        for id in 1..=brokers as i32 {
            let data_dir = data_root.join(format!("broker-{id}"));
            let process = spawn_broker(id, &data_dir, &controller_addrs, &cluster.options, any_port());
            let broker = Broker { addr: any_port(), metrics: any_port(), data_dir, process: Some(process) };
            cluster.brokers.insert(id, broker);
        }
        // Brokers bind port 0, so their failures are not port races: no retry, fail with the logs.
        for (id, broker) in &mut cluster.brokers {
            let process = broker.process.as_mut().expect("just spawned");
            let line = process.expect_ready(BROKER_READY_PREFIX, READY_TIMEOUT);
            let (addr, node_id) =
                parse_ready_line(&line).unwrap_or_else(|| panic!("broker-{id}: bad ready line {line:?}"));
            assert_eq!(node_id, *id, "broker-{id} reported node id {node_id}");
            broker.addr = addr;
            broker.metrics = parse_metrics_addr(&line).unwrap_or(broker.metrics);
        }
        // A broker prints its ready line once registered, which is fenced: it is unfenced (may lead
        // and be placed on) only after its first heartbeat commits. Return a cluster that is usable.
        let ids = cluster.broker_ids();
        cluster.wait_for_active_brokers(&ids, READY_TIMEOUT);
        Ok(cluster)
    }

    /// `bootstrap.servers` for clients: the Kafka addresses of the running brokers, comma-separated.
    pub fn bootstrap(&self) -> String {
        let addrs: Vec<String> =
            self.brokers.values().filter(|b| b.process.is_some()).map(|b| b.addr.to_string()).collect();
        addrs.join(",")
    }

    /// Broker ids, running or not.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.keys().copied().collect()
    }

    /// Ids of the brokers not killed by the test.
    pub fn live_broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().filter(|(_, b)| b.process.is_some()).map(|(id, _)| *id).collect()
    }

    /// Kafka address of broker `id` (as last started).
    pub fn broker_addr(&self, id: i32) -> SocketAddr {
        self.broker(id).addr
    }

    /// gRPC addresses (`HOST:PORT`) of all controllers, running or not, by node id.
    pub fn controller_addrs(&self) -> Vec<String> {
        self.controllers.values().map(|c| c.addr.to_string()).collect()
    }

    /// Ids of the controllers not killed by the test.
    pub fn live_controller_ids(&self) -> Vec<u64> {
        self.controllers.iter().filter(|(_, c)| c.process.is_some()).map(|(id, _)| *id).collect()
    }

    /// Root of every node's data directory (`controller-N/`, `broker-N/`).
    pub fn data_root(&self) -> &Path {
        self.root.path()
    }

    /// Kills broker `id` with SIGKILL (no controlled shutdown: the controllers notice only when its
    /// heartbeats stop).
    pub fn kill9_broker(&mut self, id: i32) {
        let mut process =
            self.broker_mut(id).process.take().unwrap_or_else(|| panic!("broker {id} is not running"));
        process.kill9();
    }

    /// Kills controller `id` with SIGKILL.
    pub fn kill9_controller(&mut self, id: u64) {
        let mut process = self
            .controller_mut(id)
            .process
            .take()
            .unwrap_or_else(|| panic!("controller {id} is not running"));
        process.kill9();
    }

    /// Starts a killed controller again on its address and data directory; waits for its ready line.
    pub fn restart_controller(&mut self, id: u64) {
        let controller = self.controller_mut(id);
        assert!(controller.process.is_none(), "controller {id} is still running");
        let mut process = spawn_controller(
            id,
            controller.addr,
            controller.metrics,
            &controller.data_dir,
            &controller.voters,
        );
        process.expect_ready(CONTROLLER_READY_PREFIX, READY_TIMEOUT);
        controller.process = Some(process);
    }

    /// Starts a broker that is not part of this cluster's set (the caller owns and watches it) with
    /// this cluster's controllers, `node_id` and `data_dir`; does not wait for it.
    pub fn spawn_extra_broker(&self, node_id: i32, data_dir: &Path) -> NodeProcess {
        spawn_broker(node_id, data_dir, &self.controller_addrs().join(","), &self.options, any_port())
    }

    /// Starts a killed broker again on its data directory (a new Kafka port); waits for its ready
    /// line, not for it to be unfenced.
    pub fn restart_broker(&mut self, id: i32) {
        let controllers = self.controller_addrs().join(",");
        let options = self.options.clone();
        let broker = self.broker_mut(id);
        assert!(broker.process.is_none(), "broker {id} is still running");
        let mut process = spawn_broker(id, &broker.data_dir, &controllers, &options, broker.metrics);
        let line = process.expect_ready(BROKER_READY_PREFIX, READY_TIMEOUT);
        let (addr, _) =
            parse_ready_line(&line).unwrap_or_else(|| panic!("broker-{id}: bad ready line {line:?}"));
        broker.addr = addr;
        broker.process = Some(process);
    }

    /// Freezes broker `id` with SIGSTOP (it keeps its sockets but neither fetches nor heartbeats).
    pub fn pause_broker(&self, id: i32) {
        let process =
            self.broker(id).process.as_ref().unwrap_or_else(|| panic!("broker {id} is not running"));
        assert!(process.signal("STOP"), "SIGSTOP to broker {id}");
    }

    /// Resumes a broker frozen by [`pause_broker`](Self::pause_broker).
    pub fn resume_broker(&self, id: i32) {
        let process =
            self.broker(id).process.as_ref().unwrap_or_else(|| panic!("broker {id} is not running"));
        assert!(process.signal("CONT"), "SIGCONT to broker {id}");
    }

    /// Freezes controller `id` with SIGSTOP: its connections stay open, nothing answers.
    pub fn pause_controller(&self, id: u64) {
        let controller = self.controllers.get(&id).unwrap_or_else(|| panic!("no controller {id}"));
        let process = controller.process.as_ref().unwrap_or_else(|| panic!("controller {id} is not running"));
        assert!(process.signal("STOP"), "SIGSTOP to controller {id}");
    }

    /// Resumes a controller frozen by [`pause_controller`](Self::pause_controller).
    pub fn resume_controller(&self, id: u64) {
        let controller = self.controllers.get(&id).unwrap_or_else(|| panic!("no controller {id}"));
        let process = controller.process.as_ref().unwrap_or_else(|| panic!("controller {id} is not running"));
        assert!(process.signal("CONT"), "SIGCONT to controller {id}");
    }

    /// Metrics endpoint (`/metrics`, `/health/*`) of broker `id`; it keeps its port across restarts.
    pub fn broker_metrics_addr(&self, id: i32) -> SocketAddr {
        self.broker(id).metrics
    }

    /// Metrics endpoint of controller `id`; it keeps its port across restarts.
    pub fn controller_metrics_addr(&self, id: u64) -> SocketAddr {
        self.controllers.get(&id).unwrap_or_else(|| panic!("no controller {id}")).metrics
    }

    /// Data directory of broker `id`.
    pub fn broker_data_dir(&self, id: i32) -> &Path {
        &self.broker(id).data_dir
    }

    /// The quorum as the first running controller that answers reports it (the leader's view when
    /// that controller can reach the leader).
    pub fn describe_quorum(&self) -> Option<QuorumStatus> {
        self.controllers
            .values()
            .filter(|c| c.process.is_some())
            .find_map(|c| describe_quorum(&c.addr.to_string()))
    }

    /// The quorum leader, if a running controller reports it and the leader itself confirms it.
    pub fn quorum_leader(&self) -> Option<u64> {
        self.describe_quorum().filter(QuorumStatus::from_leader).and_then(|q| q.leader_id)
    }

    /// The brokers registered in the quorum leader's image, if a leader answers.
    pub fn leader_registered_brokers(&self) -> Option<Vec<RegisteredBroker>> {
        let leader = self.quorum_leader()?;
        registered_brokers(&self.controllers.get(&leader)?.addr.to_string())
    }

    /// Polls the quorum leader's image until every broker in `ids` is registered and active (unfenced:
    /// it heartbeat since registering); panics with the last view after `timeout`.
    pub fn wait_for_active_brokers(&self, ids: &[i32], timeout: Duration) {
        let mut last = None;
        let active = wait_until(timeout, || {
            last = self.leader_registered_brokers();
            last.as_ref().is_some_and(|brokers| {
                ids.iter().all(|id| brokers.iter().any(|b| b.broker_id == *id && b.is_active()))
            })
        });
        assert!(active, "brokers {ids:?} not all active in the leader's image within {timeout:?}: {last:?}");
    }

    /// Polls [`Self::quorum_leader`] until there is one; panics after `timeout`.
    pub fn wait_for_quorum_leader(&self, timeout: Duration) -> u64 {
        let mut leader = None;
        let found = wait_until(timeout, || {
            leader = self.quorum_leader();
            leader.is_some()
        });
        assert!(found, "no quorum leader within {timeout:?}; last view: {:?}", self.describe_quorum());
        leader.expect("found")
    }

    fn broker(&self, id: i32) -> &Broker {
        self.brokers.get(&id).unwrap_or_else(|| panic!("no broker {id}"))
    }

    fn broker_mut(&mut self, id: i32) -> &mut Broker {
        self.brokers.get_mut(&id).unwrap_or_else(|| panic!("no broker {id}"))
    }

    fn controller_mut(&mut self, id: u64) -> &mut Controller {
        self.controllers.get_mut(&id).unwrap_or_else(|| panic!("no controller {id}"))
    }
}

impl Drop for ClusterProcesses {
    fn drop(&mut self) {
        // Brokers first, so none logs a storm of errors about vanished controllers; then the data.
        for broker in self.brokers.values_mut() {
            if let Some(mut process) = broker.process.take() {
                process.kill9();
            }
        }
        for controller in self.controllers.values_mut() {
            if let Some(mut process) = controller.process.take() {
                process.kill9();
            }
        }
    }
}

/// Waits for `prefix` on a node's stdout and returns that line; a failure names the node and carries
/// its stderr tail.
fn wait_node(process: &mut NodeProcess, prefix: &str) -> Result<String, StartFailure> {
    let node = process.label().to_string();
    match process.wait_ready(prefix, READY_TIMEOUT) {
        Startup::Ready(line) => Ok(line),
        Startup::Exited(status) => Err(StartFailure {
            node,
            reason: format!("exited ({status}); stderr tail:\n{}", process.stderr_tail()),
        }),
        Startup::TimedOut => {
            process.kill9();
            Err(StartFailure { node, reason: format!("no ready line within {READY_TIMEOUT:?}") })
        }
    }
}

fn spawn_controller(
    id: u64,
    addr: SocketAddr,
    metrics: SocketAddr,
    data_dir: &Path,
    voters: &str,
) -> NodeProcess {
    let args: Vec<String> = vec![
        "controller".into(),
        "--metrics-listen".into(),
        metrics.to_string(),
        "--node-id".into(),
        id.to_string(),
        "--listen".into(),
        addr.to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--voters".into(),
        voters.into(),
        "--cluster-id".into(),
        CLUSTER_ID.into(),
        "--broker-session-timeout-ms".into(),
        BROKER_SESSION_TIMEOUT.as_millis().to_string(),
        "--election-timeout-ms".into(),
        ELECTION_TIMEOUT_MS.into(),
    ];
    NodeProcess::spawn(format!("controller-{id}"), args)
}

fn spawn_broker(
    id: i32,
    data_dir: &Path,
    controllers: &str,
    options: &ClusterOptions,
    metrics: SocketAddr,
) -> NodeProcess {
    let mut args: Vec<String> = vec![
        "broker".into(),
        "--metrics-listen".into(),
        metrics.to_string(),
        "--node-id".into(),
        id.to_string(),
        "--listener".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--controllers".into(),
        controllers.into(),
        "--heartbeat-interval-ms".into(),
        BROKER_HEARTBEAT_INTERVAL.as_millis().to_string(),
    ];
    if !options.broker_config.is_empty() {
        std::fs::create_dir_all(data_dir).expect("create broker data dir");
        let path = data_dir.with_extension("toml");
        std::fs::write(&path, &options.broker_config).expect("write broker config");
        args.extend(["--config".into(), path.display().to_string()]);
    }
    NodeProcess::spawn(format!("broker-{id}"), args)
}

/// 127.0.0.1:0: bind any free port.
fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The address in a ready line's `metrics=http://ADDR/metrics` field.
pub fn parse_metrics_addr(line: &str) -> Option<SocketAddr> {
    let url = line.split_whitespace().find_map(|field| field.strip_prefix("metrics=http://"))?;
    url.split('/').next()?.parse().ok()
}

/// `n` distinct ports that were free a moment ago (bound on 127.0.0.1:0, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    // Hold every listener until all are picked, so the kernel cannot hand out one port twice.
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")).collect();
    listeners.iter().map(|l| l.local_addr().expect("local addr").port()).collect()
}

/// Runs `strom cluster describe-quorum --controller <addr> --output json`; `None` if it fails, times
/// out or prints something unexpected.
pub fn describe_quorum(controller: &str) -> Option<QuorumStatus> {
    parse_quorum_json(&run_cluster_tool("describe-quorum", controller)?)
}

/// The brokers registered in `controller`'s own metadata image, per
/// `strom cluster describe --controller <addr> --output json`; `None` if that fails.
pub fn registered_brokers(controller: &str) -> Option<Vec<RegisteredBroker>> {
    parse_registered_brokers(&run_cluster_tool("describe", controller)?)
}

/// Runs `strom cluster <command> --controller <addr> --output json` with [`DESCRIBE_TIMEOUT`];
/// returns its stdout if it succeeds.
fn run_cluster_tool(command: &str, controller: &str) -> Option<String> {
    let mut child = Command::new(strom_bin())
        .args(["cluster", command, "--controller", controller, "--output", "json"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + DESCRIBE_TIMEOUT;
    let status = loop {
        // The JSON is far smaller than a pipe buffer, so the child never blocks on writing it.
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if !status.success() {
        return None;
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut stdout).ok()?;
    Some(stdout)
}

/// Parses the `brokers` of `strom cluster describe --output json`.
pub fn parse_registered_brokers(text: &str) -> Option<Vec<RegisteredBroker>> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    json["brokers"]
        .as_array()?
        .iter()
        .map(|b| {
            Some(RegisteredBroker {
                broker_id: i32::try_from(b["broker_id"].as_i64()?).ok()?,
                fenced: b["fenced"].as_bool()?,
                in_controlled_shutdown: b["in_controlled_shutdown"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// Parses the JSON document of `strom cluster describe-quorum --output json`.
pub fn parse_quorum_json(text: &str) -> Option<QuorumStatus> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let voters = json["voters"]
        .as_array()?
        .iter()
        .map(|v| Some(VoterStatus { node_id: v["node_id"].as_u64()?, lag: v["lag"].as_u64() }))
        .collect::<Option<Vec<_>>>()?;
    Some(QuorumStatus {
        answered_by: json["answered_by"].as_u64()?,
        leader_id: json["leader_id"].as_u64(),
        term: json["term"].as_u64()?,
        commit_index: json["commit_index"].as_u64()?,
        voters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_describe_quorum_json() {
        let text = r#"{"answered_by":2,"leader_id":2,"leader_addr":"127.0.0.1:1","term":3,
            "commit_index":9,"last_applied":9,"last_log_index":9,
            "voters":[{"node_id":1,"addr":"a","matched_index":9,"lag":0},
                      {"node_id":2,"addr":"b","matched_index":null,"lag":null}],"learners":[]}"#;
        let quorum = parse_quorum_json(text).expect("parses");
        assert_eq!(quorum.leader_id, Some(2));
        assert!(quorum.from_leader());
        assert_eq!(quorum.voter_ids(), BTreeSet::from([1, 2]));
        assert_eq!(quorum.voters[0].lag, Some(0));
        assert_eq!(quorum.voters[1].lag, None);
        let no_leader = text.replace(r#""leader_id":2"#, r#""leader_id":null"#);
        assert_eq!(parse_quorum_json(&no_leader).expect("parses").leader_id, None);
        assert_eq!(parse_quorum_json("not json"), None);
    }

    #[test]
    fn parses_registered_brokers() {
        let text = r#"{"leader_id":1,"term":1,"commit_index":5,"voters":[],"applied_index":5,"brokers":[
            {"broker_id":1,"host":"127.0.0.1","port":9092,"rack":null,"incarnation_id":"x",
             "broker_epoch":3,"fenced":false,"in_controlled_shutdown":false},
            {"broker_id":2,"host":"127.0.0.1","port":9093,"rack":null,"fenced":true}]}"#;
        let brokers = parse_registered_brokers(text).expect("parses");
        assert_eq!(brokers.len(), 2);
        assert!(brokers[0].is_active());
        assert!(!brokers[1].is_active());
        assert_eq!(parse_registered_brokers(r#"{"brokers":[{"broker_id":1}]}"#), None);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(3);
        assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), 3);
    }
}
