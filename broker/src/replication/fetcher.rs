//! Replica fetchers: for each broker that leads partitions this broker follows, one task and one
//! connection that fetches all of them together with Kafka Fetch v12 (`replica_id` = this broker),
//! appends the leader's batches with their offsets, and truncates where the leader reports divergence.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::peer::PeerConnection;
use crate::clock::Clock;
use crate::error_code::ErrorCode;
use crate::partition::{Discarded, Divergence, Partition};

/// Replica fetcher settings (Kafka's `replica.fetch.*`).
#[derive(Debug, Clone, Copy)]
pub struct FetcherSettings {
    /// `replica.fetch.wait.max.ms`: how long the leader may hold a fetch with no new data.
    pub wait_max_ms: u64,
    /// `replica.fetch.max.bytes`: per-partition bytes per fetch.
    pub partition_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: bytes per fetch response.
    pub response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: wait after a failed connection or fetch.
    pub backoff_ms: u64,
}

/// Pause before refetching a partition whose leader answered with a retriable error (an epoch or
/// leadership the two brokers' metadata do not agree on yet).
const PARTITION_RETRY_MS: u64 = 50;

/// One partition a fetcher replicates.
#[derive(Clone)]
pub struct FetchTarget {
    /// The local replica.
    pub partition: Arc<Partition>,
    /// Leader epoch this broker's metadata gives the leader.
    pub leader_epoch: i32,
    retry_at: Option<tokio::time::Instant>,
}

impl FetchTarget {
    /// A target to fetch at once.
    pub fn new(partition: Arc<Partition>, leader_epoch: i32) -> Self {
        Self { partition, leader_epoch, retry_at: None }
    }
}

/// Partitions one fetcher replicates, by (topic, partition).
pub type Targets = BTreeMap<(String, i32), FetchTarget>;

/// What every fetcher should replicate: by leader id, its `host:port` and partitions.
pub type Wanted = HashMap<i32, (String, Targets)>;

struct LeaderFetcher {
    addr: String,
    targets: Arc<Mutex<Targets>>,
    changed: Arc<Notify>,
    task: JoinHandle<()>,
}

/// A truncation a fetcher made, to be reported to the controller (the data-loss ledger).
#[derive(Clone)]
pub struct TruncationEvent {
    /// The partition.
    pub partition: Arc<Partition>,
    /// Leader epoch being followed.
    pub leader_epoch: i32,
    /// What was discarded.
    pub discarded: Discarded,
}

/// Truncations not yet reported.
pub type Truncations = Arc<Mutex<Vec<TruncationEvent>>>;

/// All replica fetchers of this broker, keyed by leader broker id.
pub struct ReplicaFetchers {
    node_id: i32,
    truncations: Truncations,
    settings: FetcherSettings,
    clock: Arc<dyn Clock>,
    fetchers: Mutex<HashMap<i32, LeaderFetcher>>,
}

impl ReplicaFetchers {
    /// No fetchers yet.
    pub fn new(node_id: i32, settings: FetcherSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            node_id,
            settings,
            clock,
            truncations: Truncations::default(),
            fetchers: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the truncations made since the last call.
    pub fn take_truncations(&self) -> Vec<TruncationEvent> {
        std::mem::take(&mut *self.truncations.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets what to fetch: by leader id, its `host:port` and the partitions followed. Fetchers for
    /// leaders no longer listed stop; a target whose leader epoch changed is fetched at once.
    pub fn update(&self, wanted: Wanted) {
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        fetchers.retain(|leader, fetcher| {
            let keep = wanted.get(leader).is_some_and(|(addr, _)| *addr == fetcher.addr);
            if !keep {
                fetcher.task.abort();
            }
            keep
        });
        for (leader, (addr, mut targets)) in wanted {
            if let Some(fetcher) = fetchers.get(&leader) {
                let mut current = fetcher.targets.lock().unwrap_or_else(|e| e.into_inner());
                for (key, target) in &mut targets {
                    if let Some(old) = current.get(key).filter(|old| old.leader_epoch == target.leader_epoch)
                    {
                        target.retry_at = old.retry_at;
                    }
                }
                *current = targets;
                drop(current);
                fetcher.changed.notify_one();
                continue;
            }
            let targets = Arc::new(Mutex::new(targets));
            let changed = Arc::new(Notify::new());
            let context = FetcherContext {
                node_id: self.node_id,
                settings: self.settings,
                clock: self.clock.clone(),
                truncations: self.truncations.clone(),
            };
            let task = tokio::spawn(run(context, leader, addr.clone(), targets.clone(), changed.clone()));
            fetchers.insert(leader, LeaderFetcher { addr, targets, changed, task });
        }
    }

    /// Stops every fetcher (shutdown).
    pub fn stop_all(&self) {
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        for (_, fetcher) in fetchers.drain() {
            fetcher.task.abort();
        }
    }
}

impl Drop for ReplicaFetchers {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// What every fetcher task of a broker shares.
struct FetcherContext {
    node_id: i32,
    settings: FetcherSettings,
    clock: Arc<dyn Clock>,
    truncations: Truncations,
}

/// The fetch loop for one leader.
async fn run(
    context: FetcherContext,
    leader: i32,
    addr: String,
    targets: Arc<Mutex<Targets>>,
    changed: Arc<Notify>,
) {
    let FetcherContext { node_id, settings, clock, truncations } = context;
    let mut conn: Option<PeerConnection> = None;
    let backoff = Duration::from_millis(settings.backoff_ms.max(1));
    let wait = Duration::from_millis(settings.wait_max_ms);
    loop {
        let now = tokio::time::Instant::now();
        let due: Vec<((String, i32), FetchTarget)> = {
            let targets = targets.lock().unwrap_or_else(|e| e.into_inner());
            targets
                .iter()
                .filter(|(_, t)| t.retry_at.is_none_or(|at| at <= now))
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect()
        };
        if due.is_empty() {
            let next = {
                let targets = targets.lock().unwrap_or_else(|e| e.into_inner());
                targets.values().filter_map(|t| t.retry_at).min()
            };
            let notified = changed.notified();
            match next {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, notified).await;
                }
                None => notified.await,
            }
            continue;
        }
        if conn.is_none() {
            match PeerConnection::connect(&addr, format!("strom-replica-{node_id}"), Duration::from_secs(3))
                .await
            {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(leader, %addr, error = %e, "replica fetcher cannot connect");
                    let _ = tokio::time::timeout(backoff, changed.notified()).await;
                    continue;
                }
            }
        }
        let Some(connection) = conn.as_mut() else { continue };
        let (request, positions) = build_request(node_id, &due, settings);
        let response = match connection.fetch(&request, wait + Duration::from_secs(10)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(leader, %addr, error = %e, "replica fetch failed");
                conn = None;
                let _ = tokio::time::timeout(backoff, changed.notified()).await;
                continue;
            }
        };
        if response.error_code != 0 {
            tracing::debug!(leader, code = response.error_code, "replica fetch refused");
            let _ = tokio::time::timeout(backoff, changed.notified()).await;
            continue;
        }
        let mut retry = Vec::new();
        let now_ms = clock.now_ms();
        for topic in response.responses {
            for data in topic.partitions {
                let key = (topic.topic.0.to_string(), data.partition_index);
                let Some((target, fetch_offset)) = positions.get(&key) else { continue };
                if !apply(leader, &key, target, *fetch_offset, &data, now_ms, &truncations) {
                    retry.push(key);
                }
            }
        }
        if !retry.is_empty() {
            let at = tokio::time::Instant::now() + Duration::from_millis(PARTITION_RETRY_MS);
            let mut targets = targets.lock().unwrap_or_else(|e| e.into_inner());
            for key in retry {
                if let Some(t) = targets.get_mut(&key) {
                    t.retry_at = Some(at);
                }
            }
        }
    }
}

type Positions = HashMap<(String, i32), (FetchTarget, i64)>;

fn build_request(
    node_id: i32,
    due: &[((String, i32), FetchTarget)],
    settings: FetcherSettings,
) -> (FetchRequest, Positions) {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    let mut positions = HashMap::new();
    for ((topic, index), target) in due {
        let (fetch_offset, last_epoch) = target.partition.fetch_position();
        topics.entry(topic.as_str()).or_default().push(
            FetchPartition::default()
                .with_partition(*index)
                .with_current_leader_epoch(target.leader_epoch)
                .with_fetch_offset(fetch_offset)
                .with_last_fetched_epoch(last_epoch)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(settings.partition_max_bytes),
        );
        positions.insert((topic.clone(), *index), (target.clone(), fetch_offset));
    }
    let topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(name.to_string())))
                .with_partitions(partitions)
        })
        .collect();
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(node_id))
        .with_max_wait_ms(settings.wait_max_ms as i32)
        .with_min_bytes(1)
        .with_max_bytes(settings.response_max_bytes)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    (request, positions)
}

/// Applies one partition's fetch result. Returns false when the partition should wait before its
/// next fetch.
fn apply(
    leader: i32,
    key: &(String, i32),
    target: &FetchTarget,
    fetch_offset: i64,
    data: &PartitionData,
    now_ms: i64,
    truncations: &Truncations,
) -> bool {
    let partition = &target.partition;
    let epoch = target.leader_epoch;
    let report = |discarded: Option<Discarded>| {
        if let Some(discarded) = discarded {
            let event = TruncationEvent {
                partition: partition.clone(),
                leader_epoch: target.leader_epoch,
                discarded,
            };
            truncations.lock().unwrap_or_else(|e| e.into_inner()).push(event);
        }
    };
    let result = match ErrorCode::from_code(data.error_code) {
        Some(ErrorCode::None) => {
            let diverging = &data.diverging_epoch;
            if diverging.end_offset >= 0 {
                partition
                    .truncate_diverging(
                        epoch,
                        Divergence { epoch: diverging.epoch, end_offset: diverging.end_offset },
                    )
                    .map(report)
            } else {
                if let Some(records) = data.records.as_ref().filter(|r| !r.is_empty())
                    && let Err(code) = partition.append_replica(epoch, records, now_ms)
                {
                    tracing::warn!(leader, topic = %key.0, partition = key.1, ?code, "replicated batches refused");
                    return false;
                }
                partition.follow_leader_offsets(epoch, data.high_watermark, data.log_start_offset)
            }
        }
        Some(ErrorCode::OffsetOutOfRange) => {
            if fetch_offset < data.log_start_offset {
                partition.restart_at(epoch, data.log_start_offset)
            } else {
                partition.truncate_to(epoch, data.high_watermark.max(0)).map(report)
            }
        }
        code => {
            tracing::debug!(leader, topic = %key.0, partition = key.1, ?code, "replica fetch error");
            return false;
        }
    };
    if let Err(e) = result {
        tracing::error!(leader, topic = %key.0, partition = key.1, error = %e, "replica log update failed");
        return false;
    }
    true
}
