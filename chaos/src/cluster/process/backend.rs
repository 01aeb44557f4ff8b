//! [`Cluster`] for [`ProcessCluster`]: signals to child processes, tmpfs disks, libfaketime clock
//! files, HTTP and Kafka probes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use super::slot::NodeSlot;
use super::{ProcessCluster, STOP_TIMEOUT};
use crate::cluster::{Cluster, Node, Unsupported, metadata, probe};

/// [`Cluster::backend`] of [`ProcessCluster`].
const BACKEND: &str = "process";

impl ProcessCluster {
    fn slot(&self, node: Node) -> anyhow::Result<&NodeSlot> {
        self.nodes.get(&node).with_context(|| format!("no {node} in this cluster"))
    }

    fn slot_mut(&mut self, node: Node) -> anyhow::Result<&mut NodeSlot> {
        self.nodes.get_mut(&node).with_context(|| format!("no {node} in this cluster"))
    }

    fn kill_node(&mut self, node: Node) -> anyhow::Result<()> {
        let slot = self.slot_mut(node)?;
        if !slot.is_alive() {
            bail!("{node} is not running");
        }
        slot.kill();
        tracing::info!(%node, "killed (SIGKILL)");
        Ok(())
    }

    fn start_node(&mut self, node: Node) -> anyhow::Result<()> {
        let (bin, rust_log, timeout) =
            (self.bin.clone(), self.options.rust_log.clone(), self.options.ready_timeout);
        let slot = self.slot_mut(node)?;
        if slot.child.is_some() && !slot.is_alive() {
            // It exited on its own (e.g. on a full disk): forget the old process.
            slot.kill();
        }
        slot.start(&bin, &rust_log, timeout)?;
        if let Node::Broker(_) = node {
            probe::wait_ready(&[(node.to_string(), slot.metrics)], timeout)?;
        }
        tracing::info!(%node, "started");
        Ok(())
    }

    fn pause_node(&mut self, node: Node) -> anyhow::Result<()> {
        self.slot_mut(node)?.pause()?;
        tracing::info!(%node, "paused (SIGSTOP)");
        Ok(())
    }

    fn resume_node(&mut self, node: Node) -> anyhow::Result<()> {
        self.slot_mut(node)?.resume()?;
        tracing::info!(%node, "resumed (SIGCONT)");
        Ok(())
    }

    fn disk_slot(&self, broker: i32) -> anyhow::Result<&NodeSlot> {
        if let Some(reason) = &self.no_disk_faults {
            return Err(
                Unsupported { backend: BACKEND, operation: "fill_disk", reason: reason.clone() }.into()
            );
        }
        self.slot(Node::Broker(broker))
    }

    /// `pick` applied to every running (started, not frozen) node, `None`s dropped.
    fn running_addrs<T>(&self, pick: impl Fn(&NodeSlot) -> Option<T>) -> Vec<T> {
        self.nodes.values().filter(|slot| slot.is_running()).filter_map(pick).collect()
    }
}

impl Cluster for ProcessCluster {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn bootstrap(&self) -> String {
        let addrs =
            self.nodes.values().filter(|s| matches!(s.node, Node::Broker(_))).map(|s| s.addr.to_string());
        addrs.collect::<Vec<_>>().join(",")
    }

    fn broker_ids(&self) -> Vec<i32> {
        self.nodes.keys().filter_map(|n| if let Node::Broker(id) = n { Some(*id) } else { None }).collect()
    }

    fn controller_ids(&self) -> Vec<u64> {
        self.nodes
            .keys()
            .filter_map(|n| if let Node::Controller(id) = n { Some(*id) } else { None })
            .collect()
    }

    fn kill_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.kill_node(Node::Broker(id))
    }

    fn stop_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.slot_mut(Node::Broker(id))?.stop(STOP_TIMEOUT)?;
        tracing::info!(node = %Node::Broker(id), "stopped (SIGTERM)");
        Ok(())
    }

    fn start_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.start_node(Node::Broker(id))
    }

    fn pause_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.pause_node(Node::Broker(id))
    }

    fn resume_broker(&mut self, id: i32) -> anyhow::Result<()> {
        self.resume_node(Node::Broker(id))
    }

    fn kill_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.kill_node(Node::Controller(id))
    }

    fn start_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.start_node(Node::Controller(id))
    }

    fn pause_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.pause_node(Node::Controller(id))
    }

    fn resume_controller(&mut self, id: u64) -> anyhow::Result<()> {
        self.resume_node(Node::Controller(id))
    }

    fn isolate(&mut self, node: Node) -> anyhow::Result<()> {
        self.slot(node)?;
        let reason = "the nodes share loopback; a firewall rule there cannot tell one process's traffic from \
                      another's (no network namespaces)";
        Err(Unsupported { backend: BACKEND, operation: "isolate", reason: reason.into() }.into())
    }

    fn heal_network(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    fn fill_disk(&mut self, broker: i32) -> anyhow::Result<()> {
        let slot = self.disk_slot(broker)?;
        let disk = slot.disk.as_ref().with_context(|| format!("{} has no tmpfs", slot.node))?;
        let written = disk.fill()?;
        tracing::info!(node = %slot.node, written, "data disk filled");
        Ok(())
    }

    fn free_disk(&mut self, broker: i32) -> anyhow::Result<()> {
        let slot = self.slot(Node::Broker(broker))?;
        match &slot.disk {
            Some(disk) => disk.free(),
            None => Ok(()),
        }
    }

    fn skew_clock(&mut self, node: Node, offset_secs: i64) -> anyhow::Result<()> {
        if let Err(reason) = &self.faketime {
            let reason = reason.clone();
            return Err(Unsupported { backend: BACKEND, operation: "skew_clock", reason }.into());
        }
        let slot = self.slot(node)?;
        let clock = slot.clock.as_ref().with_context(|| format!("{node} has no clock file"))?;
        clock.set_offset_secs(offset_secs)?;
        tracing::info!(%node, offset_secs, "wall clock skewed");
        Ok(())
    }

    fn controller_leader(&self) -> Option<u64> {
        let controllers: Vec<(u64, SocketAddr)> = self.running_addrs(|slot| match slot.node {
            Node::Controller(id) => Some((id, slot.metrics)),
            Node::Broker(_) => None,
        });
        probe::active_controller(&controllers)
    }

    fn partition_leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let brokers: Vec<SocketAddr> =
            self.running_addrs(|slot| matches!(slot.node, Node::Broker(_)).then_some(slot.addr));
        metadata::partition_leader(&brokers, topic, partition)
    }

    fn broker_data_dir(&self, id: i32) -> Option<PathBuf> {
        self.nodes.get(&Node::Broker(id)).map(|slot| slot.data_dir.clone())
    }

    fn running(&self) -> Vec<Node> {
        self.running_addrs(|slot| Some(slot.node))
    }

    fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let nodes: Vec<(String, SocketAddr)> =
            self.nodes.values().map(|s| (s.node.to_string(), s.metrics)).collect();
        probe::wait_ready(&nodes, timeout)
    }

    fn shutdown(mut self: Box<Self>) {
        self.teardown();
    }
}
