//! The partitions this broker hosts, kept in step with the metadata image: a partition whose replica
//! list names this broker is opened (or created) on disk and takes the role the image gives it (its
//! replica fetchers follow the image's leaders); one that disappears from the image is deleted. Also
//! the notification fetch long-polls wait on, and the high-watermark checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::clock::Clock;
use crate::log::LogError;
use crate::metadata::MetadataImage;
use crate::partition::Partition;
use crate::replication::throttle::{LEADER_THROTTLED_RATE, Throttle};
use crate::replication::{FetchTarget, FetcherSettings, ReplicaFetchers, Wanted, hw_checkpoint};
use crate::topic_config::{TopicConfig, TopicDefaults};

const PARTITION_METADATA: &str = "partition.metadata";

/// Hosted partitions by (topic name, index).
pub struct ReplicaManager {
    node_id: i32,
    /// The listener (`inter.broker.listener.name`) whose endpoint followers connect to on leaders.
    inter_broker_listener: String,
    data_dir: PathBuf,
    defaults: TopicDefaults,
    partitions: RwLock<HashMap<(String, i32), Arc<Partition>>>,
    /// Offset of the last image applied; older images (a race between followers) are ignored.
    applied_offset: std::sync::Mutex<Option<u64>>,
    appended: Notify,
    fetchers: ReplicaFetchers,
    /// High watermarks read from the checkpoint at start, for partitions opened later.
    checkpointed: HashMap<(String, i32), i64>,
    /// Bounds what this broker serves, as leader, to replicas a reassignment is adding.
    pub throttle: Throttle,
    /// Wall clock for logs opened by an image, monotonic clock for leaders' follower progress.
    clock: Arc<dyn Clock>,
}

fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

fn read_topic_id(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("topic_id: "))
        .and_then(|id| Uuid::parse_str(id.trim()).ok())
}

fn write_topic_id(dir: &Path, topic_id: Uuid) -> std::io::Result<()> {
    let tmp = dir.join(format!("{PARTITION_METADATA}.tmp"));
    std::fs::write(&tmp, format!("version: 0\ntopic_id: {topic_id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(tmp, dir.join(PARTITION_METADATA))
}

impl ReplicaManager {
    /// A manager for `node_id` storing logs under `data_dir`, replicating with `fetcher` settings
    /// from leaders' `inter_broker_listener` endpoints.
    pub fn new(
        node_id: i32,
        inter_broker_listener: String,
        data_dir: PathBuf,
        defaults: TopicDefaults,
        fetcher: FetcherSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let checkpointed = hw_checkpoint::read(&data_dir);
        Self {
            node_id,
            inter_broker_listener,
            data_dir,
            defaults,
            partitions: RwLock::new(HashMap::new()),
            applied_offset: std::sync::Mutex::new(None),
            appended: Notify::new(),
            fetchers: ReplicaFetchers::new(node_id, fetcher, clock.clone()),
            checkpointed,
            throttle: Throttle::default(),
            clock,
        }
    }

    /// The hosted partition, if any.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// Every hosted partition.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Wakes fetches waiting for data.
    pub fn notify_appended(&self) {
        self.appended.notify_waiters();
    }

    /// The notification fired after every append.
    pub fn appended(&self) -> &Notify {
        &self.appended
    }

    /// Brings hosted partitions in line with `image`: opens new ones, updates configs and epochs,
    /// deletes those no longer assigned here. The first image applied also removes directories left
    /// from topics deleted while this broker was down. Images older than one already applied are
    /// ignored. A log opened here starts its segment-roll clock at the wall clock's now; leaders'
    /// follower progress (ISR lag) starts at the monotonic clock's now.
    pub fn apply_image(&self, image: &MetadataImage) -> Result<(), LogError> {
        let (now_ms, monotonic_ms) = (self.clock.now_ms(), self.clock.monotonic_ms());
        let mut applied = self.applied_offset.lock().unwrap_or_else(|e| e.into_inner());
        match *applied {
            Some(offset) if offset > image.offset => return Ok(()),
            Some(_) => {}
            None => self
                .remove_stale_dirs(image)
                .map_err(|source| LogError::Io { path: self.data_dir.clone(), source })?,
        }
        *applied = Some(image.offset);
        let rate =
            image.broker_config(self.node_id, LEADER_THROTTLED_RATE).and_then(|v| v.parse::<u64>().ok());
        self.throttle.set_rate(rate);
        let mut wanted = HashMap::new();
        for topic in image.topics() {
            for (index, partition) in &topic.partitions {
                if partition.replicas.contains(&self.node_id) {
                    wanted.insert((topic.name.clone(), *index), (topic, partition));
                }
            }
        }
        let defaults = self.defaults.with_dynamic(image, self.node_id);
        let mut partitions = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        partitions.retain(|key, partition| {
            let keep = wanted.get(key).is_some_and(|(topic, _)| topic.topic_id == partition.topic_id);
            if !keep {
                tracing::info!(topic = %partition.topic, partition = partition.index, "deleting partition");
                if let Err(e) = partition.delete() {
                    tracing::warn!(topic = %partition.topic, error = %e, "deleting partition directory failed");
                }
            }
            keep
        });
        for ((name, index), (topic, view)) in wanted {
            let config = TopicConfig::new(topic.configs.clone(), defaults.clone());
            if let Some(existing) = partitions.get(&(name.clone(), index)) {
                existing.update(config, view, monotonic_ms)?;
                continue;
            }
            let dir = partition_dir(&self.data_dir, &name, index);
            if dir.exists() && read_topic_id(&dir).is_some_and(|id| id != topic.topic_id) {
                tracing::info!(dir = %dir.display(), "removing log of an earlier topic with the same name");
                std::fs::remove_dir_all(&dir).map_err(|source| LogError::Io { path: dir.clone(), source })?;
            }
            let high_watermark = self.checkpointed.get(&(name.clone(), index)).copied().unwrap_or(0);
            let partition = Partition::open(
                &dir,
                &name,
                topic.topic_id,
                index,
                config,
                view,
                self.node_id,
                high_watermark,
                now_ms,
                monotonic_ms,
            )?;
            write_topic_id(&dir, topic.topic_id)
                .map_err(|source| LogError::Io { path: dir.clone(), source })?;
            partitions.insert((name, index), Arc::new(partition));
        }
        self.update_fetchers(image, &partitions);
        Ok(())
    }

    /// Points the replica fetchers at the leaders of the partitions this broker follows.
    fn update_fetchers(&self, image: &MetadataImage, partitions: &HashMap<(String, i32), Arc<Partition>>) {
        let mut wanted = Wanted::new();
        for ((name, index), partition) in partitions {
            let Some(view) = image.topic(name).and_then(|t| t.partitions.get(index)) else { continue };
            if view.leader == self.node_id || view.leader < 0 {
                continue;
            }
            let Some(leader) = image.broker(view.leader) else { continue };
            // A leader without this listener (a misconfigured cluster) is reached at its own
            // inter-broker endpoint, which its registration's host/port hold.
            let (host, port) =
                leader.endpoint(&self.inter_broker_listener).unwrap_or((leader.host.as_str(), leader.port));
            let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
            let entry = wanted.entry(view.leader).or_insert_with(|| (addr, BTreeMap::new()));
            entry.1.insert((name.clone(), *index), FetchTarget::new(partition.clone(), view.leader_epoch));
        }
        self.fetchers.update(wanted);
    }

    /// Truncations the replica fetchers made since the last call (to report to the controller).
    pub fn take_truncations(&self) -> Vec<crate::replication::fetcher::TruncationEvent> {
        self.fetchers.take_truncations()
    }

    /// Stops the replica fetchers (shutdown or a simulated crash).
    pub fn stop_fetchers(&self) {
        self.fetchers.stop_all();
    }

    /// Writes every hosted partition's high watermark to `replication-offset-checkpoint`.
    pub fn checkpoint_high_watermarks(&self) -> std::io::Result<()> {
        let mut entries: Vec<(String, i32, i64)> =
            self.all().iter().map(|p| (p.topic.clone(), p.index, p.offsets().high_watermark)).collect();
        entries.sort();
        hw_checkpoint::write(&self.data_dir, &entries)
    }

    /// Deletes partition directories under the data dir that the image does not assign here (topics
    /// deleted while this broker was down).
    fn remove_stale_dirs(&self, image: &MetadataImage) -> std::io::Result<()> {
        for entry in std::fs::read_dir(&self.data_dir)? {
            let path = entry?.path();
            let Some(topic_id) = read_topic_id(&path) else { continue };
            let assigned = image.topic_by_id(topic_id).is_some_and(|topic| {
                topic.partitions.iter().any(|(index, p)| {
                    p.replicas.contains(&self.node_id)
                        && partition_dir(&self.data_dir, &topic.name, *index) == path
                })
            });
            if !assigned {
                tracing::info!(dir = %path.display(), "removing log of a deleted partition");
                std::fs::remove_dir_all(&path)?;
            }
        }
        Ok(())
    }

    /// Stops replica fetchers, checkpoints high watermarks and flushes every log (clean shutdown).
    pub fn close_all(&self) {
        self.stop_fetchers();
        if let Err(e) = self.checkpoint_high_watermarks() {
            tracing::error!(error = %e, "writing the high-watermark checkpoint failed");
        }
        for partition in self.all() {
            if let Err(e) = partition.close() {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "flush on close failed");
            }
        }
    }
}
