//! [`Cluster`] for [`ComposeCluster`]: docker commands on the node containers, HTTP and Kafka probes
//! on their published ports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::docker::{self, QUICK};
use super::{ComposeCluster, Container};
use crate::cluster::{Cluster, Node, Unsupported, metadata, probe};

/// [`Cluster::backend`] of [`ComposeCluster`].
const BACKEND: &str = "compose";
/// `docker stop` grace period, as the compose file's `stop_grace_period`.
const STOP_GRACE_SECS: u64 = 30;

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl ComposeCluster {
    fn container(&self, node: Node) -> anyhow::Result<&Container> {
        self.containers.get(&node).with_context(|| format!("no {node} in this cluster"))
    }

    /// `docker <verb> <container>` for `node`.
    fn docker_on(&self, node: Node, verb: &str, timeout: Duration) -> anyhow::Result<()> {
        let id = &self.container(node)?.id;
        docker::docker(&[verb, id], timeout).with_context(|| format!("docker {verb} {node}"))?;
        tracing::info!(%node, verb, "docker");
        Ok(())
    }

    fn start_node(&mut self, node: Node) -> anyhow::Result<()> {
        self.docker_on(node, "start", Duration::from_secs(60))?;
        let container = self.container(node)?;
        probe::wait_ready(&[(node.to_string(), local(container.metrics_port))], self.options.healthy_timeout)
    }

    /// `(node, host address picked by pick)` of every running node.
    fn running_ports(&self, pick: impl Fn(&Container) -> u16) -> Vec<(Node, SocketAddr)> {
        let running = self.running();
        self.containers
            .iter()
            .filter(|(node, _)| running.contains(node))
            .map(|(node, c)| (*node, local(pick(c))))
            .collect()
    }
}

impl Cluster for ComposeCluster {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn bootstrap(&self) -> String {
        let brokers = self.containers.iter().filter(|(node, _)| matches!(node, Node::Broker(_)));
        brokers.map(|(_, c)| local(c.port).to_string()).collect::<Vec<_>>().join(",")
    }

    fn broker_ids(&self) -> Vec<i32> {
        self.containers
            .keys()
            .filter_map(|n| if let Node::Broker(id) = n { Some(*id) } else { None })
            .collect()
    }

    fn controller_ids(&self) -> Vec<u64> {
        self.containers
            .keys()
            .filter_map(|n| if let Node::Controller(id) = n { Some(*id) } else { None })
            .collect()
    }

    fn kill_broker(&mut self, id: i32) -> anyhow::Result<()> {
        // `docker kill` counts as a manual stop: `restart: unless-stopped` leaves the node down.
        self.docker_on(Node::Broker(id), "kill", QUICK)
    }

    fn stop_broker(&mut self, id: i32) -> anyhow::Result<()> {
        let node = Node::Broker(id);
        let id = &self.container(node)?.id;
        let grace = STOP_GRACE_SECS.to_string();
        docker::docker(&["stop", "-t", &grace, id], Duration::from_secs(STOP_GRACE_SECS + 30))
            .with_context(|| format!("docker stop {node}"))?;
        tracing::info!(%node, "docker stop");
        Ok(())
    }

    fn start_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.start_node(Node::Broker(id))
    }

    fn pause_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.docker_on(Node::Broker(id), "pause", QUICK)
    }

    fn resume_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.docker_on(Node::Broker(id), "unpause", QUICK)
    }

    fn kill_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.docker_on(Node::Controller(id), "kill", QUICK)
    }

    fn start_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.start_node(Node::Controller(id))
    }

    fn pause_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.docker_on(Node::Controller(id), "pause", QUICK)
    }

    fn resume_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.docker_on(Node::Controller(id), "unpause", QUICK)
    }

    fn isolate(&mut self, node: Node) -> anyhow::Result<()> {
        let id = self.container(node)?.id.clone();
        docker::docker(&["network", "disconnect", &self.network, &id], QUICK)
            .with_context(|| format!("disconnect {node} from {}", self.network))?;
        self.isolated.insert(node);
        tracing::info!(%node, network = %self.network, "isolated");
        Ok(())
    }

    fn heal_network(&mut self) -> anyhow::Result<()> {
        while let Some(node) = self.isolated.first().copied() {
            let container = self.container(node)?;
            // The service name is the DNS alias the other nodes (and advertised listeners) use.
            let args = ["network", "connect", "--alias", &container.service, &self.network, &container.id];
            docker::docker(&args, QUICK).with_context(|| format!("reconnect {node} to {}", self.network))?;
            self.isolated.remove(&node);
            tracing::info!(%node, "reconnected");
        }
        Ok(())
    }

    fn fill_disk(&mut self, broker: i32) -> anyhow::Result<()> {
        self.container(Node::Broker(broker))?;
        let reason = "the image has no shell to write a filler file with, and the volumes are docker-managed";
        Err(Unsupported { backend: BACKEND, operation: "fill_disk", reason: reason.into() }.into())
    }

    fn free_disk(&mut self, _broker: i32) -> anyhow::Result<()> {
        Ok(())
    }

    fn skew_clock(&mut self, node: Node, _offset_secs: i64) -> anyhow::Result<()> {
        self.container(node)?;
        let reason = "containers share the host kernel's clock, and the image (FROM scratch) has no libfaketime \
                      to preload";
        Err(Unsupported { backend: BACKEND, operation: "skew_clock", reason: reason.into() }.into())
    }

    fn controller_leader(&self) -> Option<u64> {
        let controllers =
            self.running_ports(|c| c.metrics_port).into_iter().filter_map(|(node, addr)| match node {
                Node::Controller(id) => Some((id, addr)),
                Node::Broker(_) => None,
            });
        probe::active_controller(&controllers.collect::<Vec<_>>())
    }

    fn partition_leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let brokers =
            self.running_ports(|c| c.port).into_iter().filter(|(n, _)| matches!(n, Node::Broker(_)));
        metadata::partition_leader(&brokers.map(|(_, addr)| addr).collect::<Vec<_>>(), topic, partition)
    }

    fn broker_data_dir(&self, id: i32) -> Option<PathBuf> {
        let node = Node::Broker(id);
        let container = self.containers.get(&node)?;
        let copy = || -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
            let dir = tempfile::Builder::new().prefix("strom-chaos-copy-").tempdir()?;
            let target = dir.path().join(node.to_string());
            let source = format!("{}:/var/lib/strom", container.id);
            docker::docker(&["cp", &source, &target.display().to_string()], Duration::from_secs(300))?;
            Ok((dir, target))
        };
        match copy() {
            Ok((dir, target)) => {
                self.copies.lock().unwrap_or_else(|e| e.into_inner()).push(dir);
                Some(target)
            }
            Err(err) => {
                tracing::warn!(%node, error = %format!("{err:#}"), "cannot copy the broker's data out");
                None
            }
        }
    }

    fn running(&self) -> Vec<Node> {
        let ids: Vec<&str> = self.containers.values().map(|c| c.id.as_str()).collect();
        let states = match docker::states(&ids) {
            Ok(states) => states,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "docker inspect failed");
                return Vec::new();
            }
        };
        self.containers
            .iter()
            .filter(|(node, c)| !self.isolated.contains(node) && states.get(&c.id) == Some(&(true, false)))
            .map(|(node, _)| *node)
            .collect()
    }

    fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let nodes: Vec<(String, SocketAddr)> =
            self.containers.iter().map(|(node, c)| (node.to_string(), local(c.metrics_port))).collect();
        probe::wait_ready(&nodes, timeout)
    }

    fn shutdown(mut self: Box<Self>) {
        self.teardown();
    }
}
