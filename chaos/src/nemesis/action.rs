//! What one scheduled fault does to the cluster: [`choose`] picks the target among the nodes live at
//! fault time, [`Action::apply`] injects it and lists the [`Undo`]s that heal it.

use std::time::Duration;

use super::schedule::ScheduledFault;
use crate::cluster::{Cluster, Node, is_unsupported};
use crate::history::FaultKind;

/// A fault with its target, ready to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL / `docker kill` of a node (a broker, a partition leader, the controller leader).
    Kill(Node),
    /// SIGSTOP / `docker pause` of a node.
    Pause(Node),
    /// Network isolation of a node.
    Isolate(Node),
    /// Filling a broker's data disk.
    FillDisk(i32),
    /// Clean stop and start of each broker in turn, waiting for the cluster to be healthy in between.
    RollingRestart(Vec<i32>),
    /// Moving a node's wall clock by this many seconds.
    SkewClock(Node, i64),
}

/// How to heal one injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// Thaw a paused node.
    Resume(Node),
    /// Reconnect every isolated node.
    HealNetwork,
    /// Put a node's wall clock back on the host's.
    ResetClock(Node),
    /// Delete a broker's disk filler.
    FreeDisk(i32),
    /// Start a killed or stopped node.
    Start(Node),
}

impl Undo {
    /// Healing order: thaw and reconnect first (a frozen or cut-off node holds up the others), then
    /// reset clocks and free disks, then start controllers before brokers (a broker registers with
    /// the quorum).
    pub fn rank(self) -> u8 {
        match self {
            Self::Resume(_) => 0,
            Self::HealNetwork => 1,
            Self::ResetClock(_) => 2,
            Self::FreeDisk(_) => 3,
            Self::Start(Node::Controller(_)) => 4,
            Self::Start(Node::Broker(_)) => 5,
        }
    }

    /// Performs the undo; starting a node that is already running succeeds at once.
    pub fn run(self, cluster: &mut dyn Cluster) -> anyhow::Result<()> {
        if let Self::Start(node) = self
            && cluster.running().contains(&node)
        {
            return Ok(());
        }
        match self {
            Self::Resume(Node::Broker(id)) => cluster.resume_broker(id),
            Self::Resume(Node::Controller(id)) => cluster.resume_controller(id),
            Self::HealNetwork => cluster.heal_network(),
            Self::ResetClock(node) => cluster.skew_clock(node, 0),
            Self::FreeDisk(id) => cluster.free_disk(id),
            Self::Start(Node::Broker(id)) => cluster.start_broker(id),
            Self::Start(Node::Controller(id)) => cluster.start_controller(id),
        }
    }
}

/// Picks the target of `fault` on the cluster as it is now: the action and the target as the
/// history records it, or why the fault is skipped (nothing to hit).
pub fn choose(
    cluster: &dyn Cluster,
    fault: &ScheduledFault,
    topic: &str,
    partitions: i32,
) -> Result<(Action, String), String> {
    let running = cluster.running();
    let pick = |nodes: Vec<Node>| -> Result<Node, String> {
        match nodes.len() {
            0 => Err("no candidate node is running".to_string()),
            n => Ok(nodes[fault.target as usize % n]),
        }
    };
    let brokers = || running.iter().copied().filter(|n| matches!(n, Node::Broker(_))).collect::<Vec<_>>();
    let chosen = match fault.kind {
        FaultKind::KillBroker => Action::Kill(pick(brokers())?),
        FaultKind::KillLeader => {
            let partition = i32::try_from(fault.target % partitions.max(1) as u32).unwrap_or(0);
            let leader = cluster
                .partition_leader(topic, partition)
                .ok_or_else(|| format!("no leader known for {topic}/{partition}"))?;
            if !running.contains(&Node::Broker(leader)) {
                return Err(format!("broker-{leader}, leader of p{partition}, is not running"));
            }
            return Ok((
                Action::Kill(Node::Broker(leader)),
                format!("broker-{leader} (leader of p{partition})"),
            ));
        }
        FaultKind::KillControllerLeader => {
            let leader = cluster.controller_leader().ok_or("no controller leader known")?;
            Action::Kill(Node::Controller(leader))
        }
        FaultKind::Pause => Action::Pause(pick(running.clone())?),
        FaultKind::Partition => Action::Isolate(pick(running.clone())?),
        FaultKind::DiskFull => match pick(brokers())? {
            Node::Broker(id) => Action::FillDisk(id),
            Node::Controller(_) => unreachable!("brokers() holds brokers only"),
        },
        FaultKind::RollingRestart => Action::RollingRestart(cluster.broker_ids()),
        FaultKind::ClockSkew => Action::SkewClock(pick(running.clone())?, fault.clock_offset_secs),
    };
    let target = chosen.target();
    Ok((chosen, target))
}

impl Action {
    /// The target as the history records it: `broker-2`, `controller-1`, `broker-1,broker-2,broker-3`,
    /// `controller-3 (clock -12s)`.
    pub fn target(&self) -> String {
        match self {
            Self::Kill(node) | Self::Pause(node) | Self::Isolate(node) => node.to_string(),
            Self::SkewClock(node, offset_secs) => format!("{node} (clock {offset_secs:+}s)"),
            Self::FillDisk(id) => Node::Broker(*id).to_string(),
            Self::RollingRestart(ids) => {
                ids.iter().map(|id| Node::Broker(*id).to_string()).collect::<Vec<_>>().join(",")
            }
        }
    }

    /// Injects the fault, pushing onto `undo` what heals it as soon as there is something to heal
    /// (so a failure half-way still leaves the right undos). A rolling restart heals itself: it
    /// returns once every broker is back and the cluster healthy (within `healthy_timeout` each).
    pub fn apply(
        &self,
        cluster: &mut dyn Cluster,
        undo: &mut Vec<Undo>,
        healthy_timeout: Duration,
    ) -> anyhow::Result<()> {
        match self {
            Self::Kill(node) => {
                match node {
                    Node::Broker(id) => cluster.kill_broker(*id)?,
                    Node::Controller(id) => cluster.kill_controller(*id)?,
                }
                undo.push(Undo::Start(*node));
            }
            Self::Pause(node) => {
                match node {
                    Node::Broker(id) => cluster.pause_broker(*id)?,
                    Node::Controller(id) => cluster.pause_controller(*id)?,
                }
                undo.push(Undo::Resume(*node));
            }
            Self::Isolate(node) => {
                cluster.isolate(*node)?;
                undo.push(Undo::HealNetwork);
            }
            Self::FillDisk(id) => {
                // Pushed first: a fill that fails half-way has still used up space.
                undo.push(Undo::FreeDisk(*id));
                if let Err(err) = cluster.fill_disk(*id) {
                    if is_unsupported(&err) {
                        undo.pop();
                    }
                    return Err(err);
                }
            }
            Self::SkewClock(node, offset_secs) => {
                cluster.skew_clock(*node, *offset_secs)?;
                undo.push(Undo::ResetClock(*node));
            }
            Self::RollingRestart(ids) => {
                for id in ids {
                    cluster.stop_broker(*id)?;
                    undo.push(Undo::Start(Node::Broker(*id)));
                    cluster.start_broker(*id)?;
                    undo.pop();
                    cluster.wait_healthy(healthy_timeout)?;
                }
            }
        }
        Ok(())
    }
}
