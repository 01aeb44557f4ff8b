//! The clusters a chaos run attacks: 3 controllers (the Raft metadata quorum) and 3 brokers, either as
//! child processes on this host ([`ProcessCluster`]) or as the docker-compose cluster of
//! `deploy/docker-compose.yml` ([`ComposeCluster`]), behind one object-safe [`Cluster`] trait.
//!
//! ```text
//!  nemesis ──kill/stop/start/pause/resume──────────▶ dyn Cluster ─┬─ ProcessCluster: strom children, signals,
//!          ──isolate/fill_disk/skew_clock─────────▶               │   tmpfs data dirs, libfaketime clock files
//!          ◀── controller_leader (each controller's /metrics)     └─ ComposeCluster: docker kill/start/pause/
//!          ◀── partition_leader (Kafka Metadata v9 to the brokers)     network disconnect, docker cp
//!  runner  ◀── bootstrap, wait_healthy (/health/ready), broker_data_dir
//! ```
//!
//! What it owns: the node processes or containers, their data (temp dirs, tmpfs mounts, compose
//! volumes) and their logs. It never leaves any of them behind: [`Cluster::shutdown`] and, as a
//! fallback, `Drop` kill every node and remove the data. It does no fault scheduling (that is
//! [`crate::nemesis`]) and records nothing into a [`crate::History`].
//!
//! Methods are synchronous and may block for seconds (a restart waits for the node's ready line):
//! async callers use `tokio::task::spawn_blocking`. An operation a backend cannot perform fails with
//! an [`Unsupported`] error (test with [`is_unsupported`]) and changes nothing.

mod command;
mod compose;
mod metadata;
mod ports;
mod probe;
mod process;
mod strom_bin;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use compose::{ComposeCluster, ComposeOptions};
pub use probe::sample;
pub use process::{
    ClockFile, DEFAULT_BROKER_CONFIG, LIBFAKETIME_ENV, Libfaketime, ProcessCluster, ProcessOptions,
};
pub use strom_bin::{STROM_BIN_ENV, find_strom_bin};

/// One node of a cluster. Ordered brokers first, then controllers, each by id (the nemesis picks
/// targets by index into a sorted list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// A broker, by `node.id`.
    Broker(i32),
    /// A controller (Raft voter), by node id.
    Controller(u64),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broker(id) => write!(f, "broker-{id}"),
            Self::Controller(id) => write!(f, "controller-{id}"),
        }
    }
}

/// The backend cannot perform `operation` (e.g. network isolation of processes that share
/// loopback). Returned inside an `anyhow::Error`; see [`is_unsupported`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The backend's name ([`Cluster::backend`]).
    pub backend: &'static str,
    /// What was asked.
    pub operation: &'static str,
    /// Why it cannot be done.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not supported by the {} cluster: {}", self.operation, self.backend, self.reason)
    }
}

impl std::error::Error for Unsupported {}

/// True if `err` (or an error it wraps) is an [`Unsupported`].
pub fn is_unsupported(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<Unsupported>())
}

/// A cluster under attack. Node ids are fixed for the cluster's life; a killed or stopped node is
/// started again on the same data and the same client-facing ports, so clients reconnect.
pub trait Cluster: Send {
    /// The backend's name: `process` or `compose`.
    fn backend(&self) -> &'static str;
    /// Kafka `bootstrap.servers` reachable from this host: every broker, running or not.
    fn bootstrap(&self) -> String;
    /// Every broker id, sorted.
    fn broker_ids(&self) -> Vec<i32>;
    /// Every controller id, sorted.
    fn controller_ids(&self) -> Vec<u64>;

    /// Kills broker `id` with SIGKILL (`docker kill`): no controlled shutdown, no flush.
    fn kill_broker(&mut self, id: i32) -> anyhow::Result<()>;
    /// Stops broker `id` cleanly: SIGTERM (`docker stop`), waiting for it to exit.
    fn stop_broker(&mut self, id: i32) -> anyhow::Result<()>;
    /// Starts a killed or stopped broker on its data and ports; returns once it is ready (registered
    /// and unfenced: `/health/ready` answers 200).
    fn start_broker(&mut self, id: i32) -> anyhow::Result<()>;
    /// Freezes broker `id` (SIGSTOP / `docker pause`): it keeps its sockets but does nothing.
    fn pause_broker(&mut self, id: i32) -> anyhow::Result<()>;
    /// Thaws a broker frozen by [`Cluster::pause_broker`].
    fn resume_broker(&mut self, id: i32) -> anyhow::Result<()>;

    /// Kills controller `id` with SIGKILL (`docker kill`).
    fn kill_controller(&mut self, id: u64) -> anyhow::Result<()>;
    /// Starts a killed controller on its data and ports; returns once it printed its ready line
    /// (process) or answers `/health/ready` (compose).
    fn start_controller(&mut self, id: u64) -> anyhow::Result<()>;
    /// Freezes controller `id` (SIGSTOP / `docker pause`).
    fn pause_controller(&mut self, id: u64) -> anyhow::Result<()>;
    /// Thaws a controller frozen by [`Cluster::pause_controller`].
    fn resume_controller(&mut self, id: u64) -> anyhow::Result<()>;

    /// Cuts `node` off from every other node and from clients. [`Unsupported`] if the backend cannot.
    fn isolate(&mut self, node: Node) -> anyhow::Result<()>;
    /// Undoes every [`Cluster::isolate`].
    fn heal_network(&mut self) -> anyhow::Result<()>;
    /// Fills the filesystem broker `id` keeps its data on. [`Unsupported`] if the backend cannot.
    fn fill_disk(&mut self, broker: i32) -> anyhow::Result<()>;
    /// Undoes [`Cluster::fill_disk`] (a no-op if the disk was not filled).
    fn free_disk(&mut self, broker: i32) -> anyhow::Result<()>;
    /// Sets `node`'s wall clock (`CLOCK_REALTIME` as its process sees it, across restarts) to the
    /// host's plus `offset_secs` (negative: behind); 0 undoes it. Monotonic clocks are untouched. The
    /// node may take a moment to see the change. [`Unsupported`] if the backend cannot.
    fn skew_clock(&mut self, node: Node, offset_secs: i64) -> anyhow::Result<()>;

    /// The Raft leader now: the running controller that says it is active, with the highest term if
    /// several say so (a stale leader cut off from the others). `None` if none answers as leader.
    fn controller_leader(&self) -> Option<u64>;
    /// The leader of `topic`/`partition` in the freshest view (highest `leader_epoch`) of the running
    /// brokers; `None` if no broker knows one.
    fn partition_leader(&self, topic: &str, partition: i32) -> Option<i32>;
    /// A directory holding broker `id`'s data: its own data dir (process) or a copy taken now
    /// (compose, removed at shutdown). `None` if it cannot be provided.
    fn broker_data_dir(&self, id: i32) -> Option<PathBuf>;
    /// Nodes that are up, not paused and not isolated, sorted.
    fn running(&self) -> Vec<Node>;
    /// Polls until every node answers `/health/ready` with 200 (brokers unfenced with a recent
    /// heartbeat, controllers knowing a leader); errors with the unhealthy nodes after `timeout`.
    fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()>;
    /// Kills every node and removes what the cluster created (temp dirs, mounts, `compose down -v`).
    fn shutdown(self: Box<Self>);
}
