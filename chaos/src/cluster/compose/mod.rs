//! [`ComposeCluster`]: the cluster of `deploy/docker-compose.yml` (3 controllers, 3 brokers, one
//! named volume each) under a unique project name with free host ports, as
//! `tests/python/test_compose.py` runs it.
//!
//! ```text
//!  build-image.sh --binary <strom> --tag <image>   (unless skip_build)
//!  <compose> -p stromchaos<hex> -f deploy/docker-compose.yml up -d   (env: image, ports, timeouts)
//!  every node's published /health/ready answers 200 ──► ready
//!  faults: docker kill | stop | start | pause | unpause | network disconnect/connect <project>_default
//!  shutdown: docker logs of every node ──► <log_dir>/<node>.log, then compose down -v
//! ```
//!
//! A node cut off with `docker network disconnect` also loses its published ports: it is unreachable
//! from the host as well (a full isolation). Disk faults are unsupported: the image has no shell and
//! the volumes are docker-managed. Clock skew is unsupported: containers share the host kernel's
//! clock and the image has no libfaketime to preload. Brokers use the image's broker defaults
//! (`replica.lag.time.max.ms` 30 s): the compose file takes no broker config file.

mod backend;
mod docker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tempfile::TempDir;

use self::docker::Project;
use crate::cluster::{Cluster, Node, find_strom_bin, ports::free_ports};

/// How to start a [`ComposeCluster`].
#[derive(Debug, Clone)]
pub struct ComposeOptions {
    /// The `strom` binary the image is built from; default [`find_strom_bin`].
    pub strom_bin: Option<PathBuf>,
    /// The compose file; default this repository's `deploy/docker-compose.yml`.
    pub compose_file: PathBuf,
    /// The image build script; default this repository's `deploy/docker/build-image.sh`.
    pub build_script: PathBuf,
    /// Image tag the nodes run.
    pub image: String,
    /// Use [`ComposeOptions::image`] as it is instead of building it.
    pub skip_build: bool,
    /// Compose project name; default `stromchaos<random hex>`.
    pub project: Option<String>,
    /// Where each node's `docker logs` is saved at shutdown.
    pub log_dir: PathBuf,
    /// `broker.session.timeout.ms` of the controllers.
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms` of the brokers.
    pub broker_heartbeat_interval_ms: u64,
    /// How long `up` and a restarted node may take to become healthy.
    pub healthy_timeout: Duration,
    /// `RUST_LOG` of the nodes; default the compose file's.
    pub rust_log: Option<String>,
}

impl ComposeOptions {
    /// The repository's compose file and image `strom:dev` (built), logs in `log_dir`, session
    /// timeout 3 s and heartbeats every 500 ms (as the compose test runs it).
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("deploy");
        Self {
            strom_bin: None,
            compose_file: deploy.join("docker-compose.yml"),
            build_script: deploy.join("docker").join("build-image.sh"),
            image: "strom:dev".to_string(),
            skip_build: false,
            project: None,
            log_dir: log_dir.into(),
            broker_session_timeout_ms: 3000,
            broker_heartbeat_interval_ms: 500,
            healthy_timeout: Duration::from_secs(120),
            rust_log: None,
        }
    }
}

/// Deadline of `compose up`.
const UP_TIMEOUT: Duration = Duration::from_secs(300);
/// Deadline of `compose down -v`.
const DOWN_TIMEOUT: Duration = Duration::from_secs(180);
/// Controllers and brokers the compose file defines (ids 1..=3 each).
const NODES_PER_KIND: u8 = 3;

/// One node's container and host ports.
struct Container {
    id: String,
    /// Compose service name, also its DNS alias on the network.
    service: String,
    /// Host port of the Kafka EXTERNAL listener (brokers) or gRPC (controllers).
    port: u16,
    /// Host port of `/metrics` and `/health/*`.
    metrics_port: u16,
}

/// The compose cluster; see the module docs.
pub struct ComposeCluster {
    options: ComposeOptions,
    project: Project,
    network: String,
    containers: BTreeMap<Node, Container>,
    /// Nodes disconnected from the network by [`Cluster::isolate`].
    isolated: BTreeSet<Node>,
    /// Copies of broker data made by [`Cluster::broker_data_dir`], removed at shutdown.
    copies: Mutex<Vec<TempDir>>,
    down: bool,
}

impl ComposeCluster {
    /// Builds the image (unless `skip_build`), brings the project up and waits until every node is
    /// healthy. On failure the project is taken down again.
    pub fn start(options: ComposeOptions) -> anyhow::Result<Self> {
        let tool = docker::compose_tool()?;
        if !options.skip_build {
            let bin = match &options.strom_bin {
                Some(bin) => bin.clone(),
                None => find_strom_bin()?,
            };
            docker::build_image(&options.build_script, &bin, &options.image)?;
        }
        let name = match &options.project {
            Some(name) => name.clone(),
            None => format!("stromchaos{:010x}", rand::rng().random::<u64>() >> 24),
        };
        let ports = free_ports(4 * usize::from(NODES_PER_KIND))?;
        let mut env = BTreeMap::from([
            ("STROM_IMAGE".to_string(), options.image.clone()),
            ("STROM_CLUSTER_ID".to_string(), name.clone()),
            ("STROM_BIND_ADDRESS".to_string(), "127.0.0.1".to_string()),
            ("STROM_BROKER_SESSION_TIMEOUT_MS".to_string(), options.broker_session_timeout_ms.to_string()),
            (
                "STROM_BROKER_HEARTBEAT_INTERVAL_MS".to_string(),
                options.broker_heartbeat_interval_ms.to_string(),
            ),
        ]);
        if let Some(rust_log) = &options.rust_log {
            env.insert("STROM_RUST_LOG".to_string(), rust_log.clone());
        }
        let mut planned = Vec::new();
        for (i, ports) in ports.chunks(2).enumerate() {
            let n = i as u8 % NODES_PER_KIND + 1;
            let (node, kind) = if i < usize::from(NODES_PER_KIND) {
                (Node::Broker(i32::from(n)), "BROKER")
            } else {
                (Node::Controller(u64::from(n)), "CONTROLLER")
            };
            env.insert(format!("STROM_{kind}{n}_PORT"), ports[0].to_string());
            env.insert(format!("STROM_{kind}{n}_METRICS_PORT"), ports[1].to_string());
            planned.push((node, ports[0], ports[1]));
        }
        let project = Project { tool, name, file: options.compose_file.clone(), env };
        let mut cluster = Self {
            options,
            project,
            network: String::new(),
            containers: BTreeMap::new(),
            isolated: BTreeSet::new(),
            copies: Mutex::new(Vec::new()),
            down: false,
        };
        match cluster.up(planned) {
            Ok(()) => Ok(cluster),
            Err(err) => {
                cluster.teardown();
                Err(err.context(format!("compose project {} did not come up", cluster.project.name)))
            }
        }
    }

    fn up(&mut self, planned: Vec<(Node, u16, u16)>) -> anyhow::Result<()> {
        tracing::info!(project = %self.project.name, image = %self.options.image, "compose up");
        self.project.compose(&["up", "-d"], UP_TIMEOUT)?;
        for (node, port, metrics_port) in planned {
            let service = node.to_string();
            let id = self.project.container(&service)?;
            self.containers.insert(node, Container { id, service, port, metrics_port });
        }
        let first = self.containers.values().next().context("no containers")?;
        let networks = docker::networks(&first.id)?;
        let default = format!("{}_default", self.project.name);
        self.network =
            networks.iter().find(|n| **n == default).or(networks.first()).cloned().context("no network")?;
        self.wait_healthy(self.options.healthy_timeout)
    }

    /// The compose project name.
    pub fn project_name(&self) -> &str {
        &self.project.name
    }

    /// Saves every node's log, then `compose down -v`. Idempotent.
    fn teardown(&mut self) {
        if self.down {
            return;
        }
        self.down = true;
        if let Err(err) = std::fs::create_dir_all(&self.options.log_dir) {
            tracing::warn!(error = %err, "cannot create the log dir");
        }
        for (node, container) in &self.containers {
            let path = self.options.log_dir.join(format!("{node}.log"));
            let saved = docker::logs(&container.id).and_then(|text| Ok(std::fs::write(&path, text)?));
            if let Err(err) = saved {
                tracing::warn!(%node, error = %format!("{err:#}"), "cannot save the node's log");
            }
            // `down` cannot stop a frozen container on every engine version.
            let _ = docker::docker(&["unpause", &container.id], docker::QUICK);
        }
        let down = self.project.compose(&["down", "-v", "--remove-orphans", "-t", "5"], DOWN_TIMEOUT);
        if let Err(err) = down {
            tracing::error!(project = %self.project.name, error = %format!("{err:#}"), "compose down failed");
        }
        self.copies.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Drop for ComposeCluster {
    fn drop(&mut self) {
        self.teardown();
    }
}
