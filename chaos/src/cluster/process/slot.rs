//! [`NodeSlot`]: one controller or broker of a [`super::ProcessCluster`] across its restarts: the
//! fixed command line and environment (ports chosen once, so clients reconnect to the same
//! addresses), its data directory, log file, clock offset file and, while it runs, its process.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::child::NodeChild;
use super::faketime::ClockFile;
use super::tmpfs::Tmpfs;
use crate::cluster::Node;

/// Stdout prefix of a broker that has registered and serves Kafka.
const BROKER_READY_PREFIX: &str = "strom broker ready: ";
/// Stdout prefix of a controller whose gRPC listener is bound.
const CONTROLLER_READY_PREFIX: &str = "strom controller ready: ";
/// Spawns tried by [`NodeSlot::start`] before giving up (a fixed port may be briefly taken by an
/// outgoing connection's ephemeral port).
const START_ATTEMPTS: u32 = 3;
/// Wait between two spawns of [`NodeSlot::start`].
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// One node's identity and state.
pub struct NodeSlot {
    /// Which node.
    pub node: Node,
    /// `strom` arguments, identical on every start.
    pub args: Vec<String>,
    /// Environment added on every start (libfaketime's, when clock skew is supported).
    pub env: Vec<(String, OsString)>,
    /// The wall-clock offset the node's libfaketime reads, when clock skew is supported.
    pub clock: Option<ClockFile>,
    /// Where its output goes.
    pub log_path: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Kafka listener (broker) or gRPC listener (controller).
    pub addr: SocketAddr,
    /// HTTP endpoint (`/metrics`, `/health/*`).
    pub metrics: SocketAddr,
    /// The process while started (it may have exited on its own since).
    pub child: Option<NodeChild>,
    /// Frozen with SIGSTOP.
    pub paused: bool,
    /// A tmpfs on the data directory (brokers, when mounting works).
    pub disk: Option<Tmpfs>,
}

impl NodeSlot {
    /// Spawns the node; does not wait for it.
    pub fn spawn(&mut self, bin: &Path, rust_log: &str) -> anyhow::Result<()> {
        if self.is_alive() {
            bail!("{} is already running", self.node);
        }
        let prefix = match self.node {
            Node::Broker(_) => BROKER_READY_PREFIX,
            Node::Controller(_) => CONTROLLER_READY_PREFIX,
        };
        let label = self.node.to_string();
        let child = NodeChild::spawn(bin, &self.args, &self.env, &label, &self.log_path, rust_log, prefix)?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Waits for the ready line of the spawned node.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let child = self.child.as_mut().with_context(|| format!("{} was not started", self.node))?;
        child.wait_ready(timeout).map(drop)
    }

    /// Spawns the node and waits for its ready line, respawning up to [`START_ATTEMPTS`] times if it
    /// exits first.
    pub fn start(&mut self, bin: &Path, rust_log: &str, timeout: Duration) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            self.spawn(bin, rust_log)?;
            match self.wait_ready(timeout) {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tracing::warn!(node = %self.node, attempt, error = %format!("{err:#}"), "start failed");
                    failures.push(format!("attempt {attempt}: {err:#}"));
                }
            }
            self.kill();
            std::thread::sleep(RETRY_BACKOFF);
        }
        bail!("{} did not start:\n{}", self.node, failures.join("\n"))
    }

    /// SIGKILL; a no-op if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill9();
        }
        self.paused = false;
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let mut child = self.child.take().with_context(|| format!("{} is not running", self.node))?;
        self.paused = false;
        child.terminate(timeout)
    }

    /// SIGSTOP.
    pub fn pause(&mut self) -> anyhow::Result<()> {
        self.running_child()?.signal("STOP")?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        self.running_child()?.signal("CONT")?;
        self.paused = false;
        Ok(())
    }

    /// The process has not exited.
    pub fn is_alive(&self) -> bool {
        self.child.as_ref().is_some_and(NodeChild::is_alive)
    }

    /// Alive and not frozen.
    pub fn is_running(&self) -> bool {
        self.is_alive() && !self.paused
    }

    /// Process id while started.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(NodeChild::pid)
    }

    fn running_child(&self) -> anyhow::Result<&NodeChild> {
        match &self.child {
            Some(child) if child.is_alive() => Ok(child),
            _ => bail!("{} is not running", self.node),
        }
    }
}
