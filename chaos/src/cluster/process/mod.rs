//! [`ProcessCluster`]: N controllers and M brokers as `strom` child processes on this host, with the
//! test harness's short timeouts (broker session 2 s, heartbeat 200 ms, Raft election 200..400 ms)
//! so failover is quick.
//!
//! ```text
//!  free ports (gRPC, Kafka, metrics for every node, chosen once and kept across restarts)
//!    ──► strom controller --node-id i --listen …  (×N)  ── ready lines ──┐
//!    ──► strom broker --node-id j --listener … --config <root>/broker-j.toml (×M) ── ready lines
//!    ──► every node's /health/ready answers 200
//!  <root>/controller-i, <root>/broker-j (a tmpfs of `tmpfs_size_mb` when mounting works)
//!  <log_dir>/controller-i.log, <log_dir>/broker-j.log (stderr + stdout, appended across restarts)
//! ```
//!
//! Disk faults need the broker data directories on tmpfs, which needs root; without it
//! [`Cluster::fill_disk`](crate::cluster::Cluster::fill_disk) is [`Unsupported`](crate::cluster::Unsupported)
//! (logged once at start). Network isolation is always unsupported: the processes share loopback, and
//! a firewall rule there cannot tell one node's traffic from another's.
//!
//! Clock skew needs libfaketime ([`Libfaketime::find`]): when it is there, every node (every start)
//! preloads it and reads its wall-clock offset from `<root>/<node>.faketime` (`+0` until
//! [`Cluster::skew_clock`](crate::cluster::Cluster::skew_clock)); without it skews are
//! [`Unsupported`](crate::cluster::Unsupported). See [`faketime`].

mod backend;
mod child;
mod faketime;
mod slot;
mod tmpfs;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;

pub use self::faketime::{ClockFile, LIBFAKETIME_ENV, Libfaketime};
use self::slot::NodeSlot;
use self::tmpfs::Tmpfs;
use crate::cluster::{Node, find_strom_bin, ports::free_ports};

/// Broker settings every [`ProcessCluster`] broker gets unless [`ProcessOptions::broker_config`] is
/// replaced: a follower behind for 3 s leaves the ISR, and a failed follower fetch is retried quickly.
pub const DEFAULT_BROKER_CONFIG: &str = "replica_lag_time_max_ms = 3000\nreplica_fetch_backoff_ms = 200\n";

/// Whole-cluster starts tried before giving up (a controller exits if a chosen port was taken).
const START_ATTEMPTS: usize = 3;

/// How to start a [`ProcessCluster`].
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// Controllers, node ids `1..=controllers` (node 1 initializes the quorum).
    pub controllers: usize,
    /// Brokers, node ids `1..=brokers`.
    pub brokers: usize,
    /// The `strom` binary; default [`find_strom_bin`].
    pub strom_bin: Option<PathBuf>,
    /// Where node data goes (kept afterwards; it must not hold an earlier cluster's data); default a
    /// temporary directory removed at shutdown. Broker data on tmpfs is gone at shutdown either way.
    pub data_dir: Option<PathBuf>,
    /// Where each node's log file goes (created if missing).
    pub log_dir: PathBuf,
    /// Broker config file contents (TOML, `BrokerConfig` keys).
    pub broker_config: String,
    /// Size of the tmpfs mounted on each broker's data directory, or `None` for no tmpfs (and no disk
    /// faults).
    pub tmpfs_size_mb: Option<u64>,
    /// How long a node may take to print its ready line, and the cluster to become healthy.
    pub ready_timeout: Duration,
    /// `RUST_LOG` of the nodes.
    pub rust_log: String,
}

impl ProcessOptions {
    /// 3 controllers, 3 brokers, logs in `log_dir`, [`DEFAULT_BROKER_CONFIG`], 256 MiB tmpfs data dirs.
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        Self {
            controllers: 3,
            brokers: 3,
            strom_bin: None,
            data_dir: None,
            log_dir: log_dir.into(),
            broker_config: DEFAULT_BROKER_CONFIG.to_string(),
            tmpfs_size_mb: Some(256),
            ready_timeout: Duration::from_secs(30),
            rust_log: "info,openraft=warn".to_string(),
        }
    }
}

/// `cluster.id` of the controllers.
const CLUSTER_ID: &str = "strom-chaos";
/// `broker.session.timeout.ms` of the controllers.
const BROKER_SESSION_TIMEOUT_MS: u64 = 2000;
/// `broker.heartbeat.interval.ms` of the brokers.
const BROKER_HEARTBEAT_INTERVAL_MS: u64 = 200;
/// Raft election timeout range of the controllers.
const ELECTION_TIMEOUT_MS: &str = "200..400";
/// How long a SIGTERMed node may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where node data lives.
enum Root {
    Temp(TempDir),
    Given(PathBuf),
}

impl Root {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(dir) => dir.path(),
            Self::Given(path) => path,
        }
    }
}

/// Controllers and brokers as child processes; see the module docs.
pub struct ProcessCluster {
    options: ProcessOptions,
    bin: PathBuf,
    nodes: BTreeMap<Node, NodeSlot>,
    /// Why broker disks cannot be filled, if they cannot.
    no_disk_faults: Option<String>,
    /// The libfaketime every node preloads, or why clock skew is unsupported.
    faketime: Result<Libfaketime, String>,
    root: Root,
}

impl ProcessCluster {
    /// Starts the controllers, then the brokers, and returns once every node is ready (brokers
    /// registered and unfenced). Retries on fresh ports if a node fails to start.
    pub fn start(options: ProcessOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(options.controllers > 0, "a cluster needs at least one controller");
        let bin = match &options.strom_bin {
            Some(bin) => bin.clone(),
            None => find_strom_bin()?,
        };
        let faketime = Libfaketime::find();
        match &faketime {
            Ok(lib) => {
                tracing::info!(lib = %lib.path().display(), "nodes preload libfaketime: clock skew supported")
            }
            Err(reason) => tracing::warn!(%reason, "clock skew is unsupported"),
        }
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let root = match &options.data_dir {
                Some(dir) => Root::Given(dir.clone()),
                None => Root::Temp(tempfile::Builder::new().prefix("strom-chaos-").tempdir()?),
            };
            let mut cluster = Self {
                options: options.clone(),
                bin: bin.clone(),
                nodes: BTreeMap::new(),
                no_disk_faults: None,
                faketime: faketime.clone(),
                root,
            };
            match cluster.try_start() {
                Ok(()) => return Ok(cluster),
                Err(err) => {
                    tracing::warn!(attempt, error = %format!("{err:#}"), "cluster start failed");
                    failures.push(format!("attempt {attempt}: {err:#}"));
                    cluster.teardown();
                    cluster.remove_node_dirs();
                }
            }
        }
        anyhow::bail!(
            "the process cluster did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        )
    }

    fn try_start(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.root.path())?;
        let (controllers, brokers) = (self.options.controllers, self.options.brokers);
        let mut ports = free_ports(2 * (controllers + brokers))?.into_iter().map(local);
        let mut next = || ports.next().context("free ports");
        let grpc: Vec<SocketAddr> = (0..controllers).map(|_| next()).collect::<anyhow::Result<_>>()?;
        let voters: Vec<String> = grpc.iter().enumerate().map(|(i, a)| format!("{}={a}", i + 1)).collect();
        let quorum: Vec<String> = grpc.iter().map(SocketAddr::to_string).collect();
        for (i, addr) in grpc.iter().enumerate() {
            let id = i as u64 + 1;
            let slot = self.controller_slot(id, *addr, next()?, &voters.join(","))?;
            self.nodes.insert(Node::Controller(id), slot);
        }
        for id in 1..=brokers as i32 {
            let slot = self.broker_slot(id, next()?, next()?, &quorum.join(","))?;
            self.nodes.insert(Node::Broker(id), slot);
        }
        self.mount_disks();
        let (bin, rust_log, timeout) =
            (self.bin.clone(), self.options.rust_log.clone(), self.options.ready_timeout);
        // Controllers in parallel (each waits for the others to elect), then brokers in parallel.
        for brokers in [false, true] {
            let of_kind = |slot: &&mut NodeSlot| matches!(slot.node, Node::Broker(_)) == brokers;
            for slot in self.nodes.values_mut().filter(of_kind) {
                slot.spawn(&bin, &rust_log)?;
            }
            for slot in self.nodes.values_mut().filter(of_kind) {
                slot.wait_ready(timeout)?;
            }
        }
        crate::cluster::Cluster::wait_healthy(self, timeout)
    }

    fn controller_slot(
        &self,
        id: u64,
        addr: SocketAddr,
        metrics: SocketAddr,
        voters: &str,
    ) -> anyhow::Result<NodeSlot> {
        let node = Node::Controller(id);
        let data_dir = self.root.path().join(node.to_string());
        let args = [
            "controller",
            "--node-id",
            &id.to_string(),
            "--listen",
            &addr.to_string(),
            "--metrics-listen",
            &metrics.to_string(),
            "--data-dir",
            &data_dir.display().to_string(),
            "--voters",
            voters,
            "--cluster-id",
            CLUSTER_ID,
            "--broker-session-timeout-ms",
            &BROKER_SESSION_TIMEOUT_MS.to_string(),
            "--election-timeout-ms",
            ELECTION_TIMEOUT_MS,
        ];
        self.new_slot(node, args.map(String::from).to_vec(), data_dir, addr, metrics)
    }

    fn broker_slot(
        &self,
        id: i32,
        addr: SocketAddr,
        metrics: SocketAddr,
        quorum: &str,
    ) -> anyhow::Result<NodeSlot> {
        let node = Node::Broker(id);
        let data_dir = self.root.path().join(node.to_string());
        let config = self.root.path().join(format!("{node}.toml"));
        std::fs::write(&config, &self.options.broker_config)
            .with_context(|| format!("write {}", config.display()))?;
        let args = [
            "broker",
            "--node-id",
            &id.to_string(),
            "--listener",
            &addr.to_string(),
            "--metrics-listen",
            &metrics.to_string(),
            "--data-dir",
            &data_dir.display().to_string(),
            "--controllers",
            quorum,
            "--heartbeat-interval-ms",
            &BROKER_HEARTBEAT_INTERVAL_MS.to_string(),
            "--config",
            &config.display().to_string(),
        ];
        self.new_slot(node, args.map(String::from).to_vec(), data_dir, addr, metrics)
    }

    /// A slot for `node`; with libfaketime, also its clock file at `<root>/<node>.faketime` (next to,
    /// not inside, the data dir, which may be a tmpfs) holding offset 0.
    fn new_slot(
        &self,
        node: Node,
        args: Vec<String>,
        data_dir: PathBuf,
        addr: SocketAddr,
        metrics: SocketAddr,
    ) -> anyhow::Result<NodeSlot> {
        let log_path = self.options.log_dir.join(format!("{node}.log"));
        let (env, clock) = match &self.faketime {
            Ok(lib) => {
                let clock = ClockFile::create(self.root.path().join(format!("{node}.faketime")))?;
                (lib.env(clock.path()), Some(clock))
            }
            Err(_) => (Vec::new(), None),
        };
        Ok(NodeSlot {
            node,
            args,
            env,
            clock,
            log_path,
            data_dir,
            addr,
            metrics,
            child: None,
            paused: false,
            disk: None,
        })
    }

    /// Mounts a tmpfs on every broker's data dir, or none (and records why disk faults are off).
    fn mount_disks(&mut self) {
        let Some(size_mb) = self.options.tmpfs_size_mb else {
            self.no_disk_faults = Some("tmpfs data dirs are turned off (tmpfs_size_mb: None)".into());
            return;
        };
        for slot in self.nodes.values_mut().filter(|s| matches!(s.node, Node::Broker(_))) {
            match Tmpfs::mount(&slot.data_dir, size_mb) {
                Ok(disk) => slot.disk = Some(disk),
                Err(err) => {
                    let reason =
                        format!("cannot mount a tmpfs on the broker data dirs (needs root): {err:#}");
                    tracing::warn!(%reason, "disk faults are unsupported");
                    self.no_disk_faults = Some(reason);
                    break;
                }
            }
        }
        if self.no_disk_faults.is_some() {
            self.nodes.values_mut().for_each(|slot| slot.disk = None);
        } else {
            tracing::info!(size_mb, "broker data dirs are on tmpfs: disk faults supported");
        }
    }

    /// Every node's process id while started (for checking nothing is left behind).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.values().filter_map(NodeSlot::pid).collect()
    }

    /// Root of the node data directories (`controller-N/`, `broker-N/`).
    pub fn data_root(&self) -> &Path {
        self.root.path()
    }

    /// GET `path` (`/metrics`, `/health/ready`) from `node`'s HTTP endpoint: the status and the body,
    /// `None` if the node is unknown or does not answer within a couple of seconds.
    pub fn http_get(&self, node: Node, path: &str) -> Option<(u16, String)> {
        crate::cluster::probe::get(self.nodes.get(&node)?.metrics, path)
    }

    /// Kills every node (brokers first, so they do not log storms about vanished controllers) and
    /// unmounts the tmpfs disks. Idempotent.
    fn teardown(&mut self) {
        // `Node` orders brokers before controllers.
        for slot in self.nodes.values_mut() {
            slot.kill();
        }
        for slot in self.nodes.values_mut() {
            if let Some(mut disk) = slot.disk.take()
                && let Err(err) = disk.unmount()
            {
                tracing::error!(node = %slot.node, error = %format!("{err:#}"), "unmount failed");
            }
        }
    }

    /// Removes the node directories of a failed start (a retry initializes a fresh quorum).
    fn remove_node_dirs(&self) {
        for slot in self.nodes.values() {
            let _ = std::fs::remove_dir_all(&slot.data_dir);
        }
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
