//! In-process controller quorums on 127.0.0.1:0 with temporary data directories: election, replication,
//! redirects, failover, restart from disk, membership changes and prompt failure without quorum.
//!
//! Tests never sleep to wait: they poll a condition until a deadline.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use strom_controller::metadata::{MetadataImage, MetadataRecord};
use strom_controller::{Controller, ControllerConfig, ControllerError, ControllerHandle, ControllerNode};
use tempfile::TempDir;

/// How long an election (or catching up) may take before a test fails.
const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `condition` every 20 ms until it returns `Some` or `timeout` passes.
async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut condition: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn broker(id: i32) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        broker_id: id,
        incarnation_id: uuid::Uuid::nil(),
        host: format!("broker-{id}"),
        port: 9092,
        endpoints: Vec::new(),
        rack: None,
        fenced: false,
    }
}

/// A quorum of in-process controllers; a stopped node keeps its data directory and address.
struct TestCluster {
    dirs: BTreeMap<u64, TempDir>,
    addrs: BTreeMap<u64, SocketAddr>,
    nodes: BTreeMap<u64, ControllerHandle>,
}

impl TestCluster {
    /// Starts `n` nodes (ids 1..=n) on ephemeral ports and initializes them as one quorum.
    async fn start(n: u64) -> Result<Self> {
        let mut cluster = Self { dirs: BTreeMap::new(), addrs: BTreeMap::new(), nodes: BTreeMap::new() };
        for id in 1..=n {
            cluster.start_node(id).await?;
        }
        let voters: BTreeMap<u64, String> =
            cluster.addrs.iter().map(|(id, addr)| (*id, addr.to_string())).collect();
        cluster.node(1)?.initialize(&voters).await?;
        Ok(cluster)
    }

    fn config(&self, id: u64) -> Result<ControllerConfig> {
        let dir = self.dirs.get(&id).context("no data dir")?;
        Ok(ControllerConfig {
            node_id: id,
            listen: self.addrs.get(&id).copied().unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: dir.path().to_path_buf(),
            snapshot_every_logs: 50,
            max_logs_kept_after_purge: 10,
            ..ControllerConfig::default()
        })
    }

    /// Starts (or restarts, on the same directory and address) node `id`.
    async fn start_node(&mut self, id: u64) -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.dirs.entry(id) {
            slot.insert(tempfile::tempdir()?);
        }
        let handle = ControllerNode::start(self.config(id)?).await?;
        self.addrs.insert(id, handle.addr());
        self.nodes.insert(id, handle);
        Ok(())
    }

    async fn stop_node(&mut self, id: u64) -> Result<()> {
        let handle = self.nodes.remove(&id).context("node not running")?;
        handle.shutdown().await?;
        Ok(())
    }

    fn node(&self, id: u64) -> Result<Controller> {
        Ok(self.nodes.get(&id).context("node not running")?.controller())
    }

    fn controllers(&self) -> Vec<Controller> {
        self.nodes.values().map(ControllerHandle::controller).collect()
    }

    /// The running node that is leader, once every running voter names it.
    async fn leader(&self, not: Option<u64>) -> Result<Controller> {
        let controllers = self.controllers();
        poll("a leader", DEADLINE, || {
            let controllers = controllers.clone();
            async move {
                let leader = controllers.iter().find(|c| c.is_leader() && Some(c.node_id()) != not)?;
                let voters: Vec<u64> = leader.describe().voters.iter().map(|v| v.node_id).collect();
                let agreed = controllers
                    .iter()
                    .filter(|c| voters.contains(&c.node_id()))
                    .all(|c| c.metrics().current_leader == Some(leader.node_id()));
                agreed.then(|| leader.clone())
            }
        })
        .await
    }

    /// Waits until every running node applied the same index and holds the same image; returns it.
    async fn converged_image(&self) -> Result<Arc<MetadataImage>> {
        let controllers = self.controllers();
        poll("identical images", DEADLINE, || {
            let controllers = controllers.clone();
            async move {
                let first = controllers.first()?;
                let index = first.applied_index();
                let same_index = controllers.iter().all(|c| c.applied_index() == index);
                let image = first.image();
                (same_index && controllers.iter().all(|c| *c.image() == *image)).then_some(image)
            }
        })
        .await
    }

    async fn shutdown(mut self) -> Result<()> {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop_node(id).await?;
        }
        Ok(())
    }
}

/// Writes through whichever node leads, following `NotLeader` until the deadline.
async fn write_via_leader(controllers: &[Controller], records: Vec<MetadataRecord>) -> Result<u64> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let leader = controllers.iter().find(|c| c.is_leader());
        let err = match leader {
            Some(leader) => match leader.write(records.clone()).await {
                Ok(index) => return Ok(index),
                Err(err) => anyhow::Error::new(err),
            },
            None => anyhow::anyhow!("no leader"),
        };
        if Instant::now() >= deadline {
            return Err(err.context("writing through the leader"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_replicate_and_followers_redirect() -> Result<()> {
    let cluster = TestCluster::start(3).await?;
    let leader = cluster.leader(None).await?;
    for id in 0..20 {
        leader.write(vec![broker(id), broker(id + 1000)]).await?;
    }
    let image = cluster.converged_image().await?;
    assert_eq!(image.brokers().count(), 40);
    assert_eq!(image.offset, 40);

    let follower =
        cluster.controllers().into_iter().find(|c| c.node_id() != leader.node_id()).context("follower")?;
    match follower.write(vec![broker(99)]).await {
        Err(ControllerError::NotLeader { leader_id, leader_addr }) => {
            assert_eq!(leader_id, Some(leader.node_id()));
            assert_eq!(leader_addr, Some(leader.addr().to_string()));
        }
        other => bail!("write on a follower: expected NotLeader, got {other:?}"),
    }

    // Applied batches are published in log order.
    let mut batches = follower.subscribe();
    let index = leader.write(vec![broker(7777)]).await?;
    let (seen, records) = poll("the batch on the follower's stream", DEADLINE, || {
        let next = batches.try_recv().ok();
        async move { next.filter(|(_, records)| !records.is_empty()) }
    })
    .await?;
    assert_eq!((seen, records), (index, vec![broker(7777)]));

    let state = leader.describe();
    assert_eq!(state.leader_id, Some(leader.node_id()));
    assert_eq!(state.voters.len(), 3);
    assert!(state.voters.iter().all(|v| v.matched_index.is_some()), "{state:?}");
    assert!(state.commit_index >= index, "{state:?}");
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_leader_after_leader_stops_and_writes_survive() -> Result<()> {
    let mut cluster = TestCluster::start(3).await?;
    let old = cluster.leader(None).await?;
    let old_term = old.metrics().current_term;
    for id in 0..10 {
        old.write(vec![broker(id)]).await?;
    }
    cluster.stop_node(old.node_id()).await?;
    let started = Instant::now();
    let new = cluster.leader(Some(old.node_id())).await?;
    eprintln!("new leader {} after {:?}", new.node_id(), started.elapsed());
    assert!(new.metrics().current_term > old_term);
    assert_eq!(new.image().brokers().count(), 10);
    new.write(vec![broker(10)]).await?;

    cluster.start_node(old.node_id()).await?;
    let image = cluster.converged_image().await?;
    assert_eq!(image.brokers().count(), 11);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_of_all_nodes_from_disk_gives_the_same_image() -> Result<()> {
    let mut cluster = TestCluster::start(3).await?;
    let leader = cluster.leader(None).await?;
    // More than `snapshot_every_logs` entries: the restart loads a snapshot plus a log tail.
    for id in 0..120 {
        leader.write(vec![broker(id)]).await?;
    }
    let before = cluster.converged_image().await?;
    for id in 1..=3 {
        cluster.stop_node(id).await?;
    }
    for id in 1..=3 {
        cluster.start_node(id).await?;
    }
    let leader = cluster.leader(None).await?;
    let after = cluster.converged_image().await?;
    assert_eq!(*after, *before);
    assert!(leader.metrics().snapshot.is_some(), "a snapshot was built");
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_voters_while_writes_continue() -> Result<()> {
    let mut cluster = TestCluster::start(3).await?;
    cluster.leader(None).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let controllers = cluster.controllers();
        let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
        tokio::spawn(async move {
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                write_via_leader(&controllers, vec![broker(next)]).await?;
                next += 1;
                acked.store(next as u64, Ordering::Relaxed);
            }
            anyhow::Ok(next)
        })
    };

    cluster.start_node(4).await?;
    let new_addr = cluster.addrs[&4].to_string();
    let leader = cluster.leader(None).await?;
    leader.add_voter(4, &new_addr).await?;
    let leader = cluster.leader(None).await?;
    let removed = (1..=3).find(|id| *id != leader.node_id()).context("a follower")?;
    leader.remove_voter(removed).await?;
    let before = acked.load(Ordering::Relaxed);
    poll("writes after the membership changes", DEADLINE, || {
        let now = acked.load(Ordering::Relaxed);
        async move { (now >= before + 5).then_some(()) }
    })
    .await?;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await??;

    let voters: Vec<u64> = leader.describe().voters.iter().map(|v| v.node_id).collect();
    let mut expected: Vec<u64> = (1..=4).filter(|id| *id != removed).collect();
    expected.sort_unstable();
    assert_eq!(voters, expected);
    cluster.stop_node(removed).await?;
    let image = cluster.converged_image().await?;
    assert_eq!(image.brokers().count(), written as usize);
    cluster.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_without_quorum_fails_promptly() -> Result<()> {
    let mut cluster = TestCluster::start(3).await?;
    let leader = cluster.leader(None).await?;
    leader.write(vec![broker(1)]).await?;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader.node_id()).collect();
    for id in followers {
        cluster.stop_node(id).await?;
    }
    let started = Instant::now();
    let result = leader.write(vec![broker(2)]).await;
    let waited = started.elapsed();
    assert!(matches!(result, Err(ControllerError::NoQuorum { .. })), "{result:?}");
    assert!(waited < Duration::from_secs(3), "NoQuorum after {waited:?}");
    // Once the leader has gone an election timeout without acks, writes fail at once.
    poll("an immediate NoQuorum", DEADLINE, || {
        let leader = leader.clone();
        async move {
            let started = Instant::now();
            let result = leader.write(vec![broker(3)]).await;
            (matches!(result, Err(ControllerError::NoQuorum { .. }))
                && started.elapsed() < Duration::from_millis(100))
            .then_some(())
        }
    })
    .await?;
    cluster.shutdown().await
}
