//! Everything a request handler can reach: configuration, the metadata image and its store, the
//! hosted partitions, the producer-id allocator and the clock.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::error_code::ErrorCode;
use strom_controller::request::{self, ControllerReply, ControllerRequest};
use uuid::Uuid;

use crate::metadata::cluster::ClusterMetadata;
use crate::metadata::ops::OpError;
use crate::metadata::{MetadataImage, MetadataRecord, MetadataStore};
use crate::partition::Partition;
use crate::replica_manager::ReplicaManager;
use crate::topic_config::TopicDefaults;

/// Producer ids reserved per metadata record.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// Where this broker's metadata comes from.
pub enum MetadataSource {
    /// Single node: the broker decides changes itself and commits them to its own metadata log.
    Local(MetadataStore),
    /// Cluster: the controller quorum decides; the broker follows its watch stream.
    Cluster(Arc<ClusterMetadata>),
}

/// Shared broker state.
pub struct BrokerState {
    /// Node configuration.
    pub config: BrokerConfig,
    /// Cluster id from `meta.properties`.
    pub cluster_id: String,
    /// Where metadata comes from: the local log (single node) or the controller quorum.
    pub metadata: MetadataSource,
    /// Hosted partitions.
    pub replicas: Arc<ReplicaManager>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Offset commits waiting for their controller write.
    pub offsets: crate::coordinator::offsets::OffsetCommitter,
    /// Consumer groups this broker coordinates.
    pub groups: crate::coordinator::groups::GroupCoordinator,
    /// Recorded metrics (counters and histograms; gauges are collected at scrape time).
    pub metrics: Arc<crate::metrics::BrokerMetrics>,
    /// Serialises commit + apply so partitions always follow images in order.
    commit_lock: Mutex<()>,
    /// Unused part of the current producer-id block: [next, end).
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
}

impl BrokerState {
    /// Assembles the state; the caller has opened the store and replica manager.
    pub fn new(
        config: BrokerConfig,
        cluster_id: String,
        metadata: MetadataSource,
        replicas: Arc<ReplicaManager>,
        clock: Arc<dyn Clock>,
        metrics: Arc<crate::metrics::BrokerMetrics>,
    ) -> Self {
        let group_config = config.group_config();
        Self {
            config,
            cluster_id,
            metadata,
            replicas,
            clock,
            offsets: crate::coordinator::offsets::OffsetCommitter::default(),
            groups: crate::coordinator::groups::GroupCoordinator::new(group_config),
            metrics,
            commit_lock: Mutex::new(()),
            producer_ids: tokio::sync::Mutex::new((0, 0)),
        }
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        match &self.metadata {
            MetadataSource::Local(store) => store.image(),
            MetadataSource::Cluster(cluster) => cluster.image(),
        }
    }

    /// Computes records from the current image with `op`, commits them (fsync) and applies the new
    /// image to the hosted partitions before returning. The closure runs under the commit lock, so it
    /// always sees the latest image.
    fn commit_with<T>(
        &self,
        op: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), OpError>,
    ) -> Result<T, OpError> {
        let _guard = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (records, out) = op(&self.image())?;
        if records.is_empty() {
            return Ok(out);
        }
        let MetadataSource::Local(store) = &self.metadata else {
            return Err(OpError {
                code: ErrorCode::UnknownServerError,
                message: "not a single-node broker".into(),
            });
        };
        let image = store
            .commit(&records)
            .map_err(|e| OpError { code: ErrorCode::UnknownServerError, message: e.to_string() })?;
        self.replicas
            .apply_image(&image)
            .map_err(|e| OpError { code: ErrorCode::UnknownServerError, message: e.to_string() })?;
        Ok(out)
    }

    /// Topic-config defaults of this broker: its static configuration overlaid with the dynamic broker
    /// configs in the image (cluster-wide, then this broker's).
    pub fn topic_defaults(&self) -> TopicDefaults {
        self.config.topic_defaults.with_dynamic(&self.image(), self.config.node_id)
    }

    /// The partition this broker leads, or the error a client should see: UNKNOWN_TOPIC_OR_PARTITION
    /// when the image has no such partition, NOT_LEADER_OR_FOLLOWER when another broker leads it (or
    /// nobody does), so clients refresh their metadata.
    pub fn leader_partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        self.leader_partition_in(&self.image(), topic, index)
    }

    /// [`leader_partition`](Self::leader_partition) against an image the caller already holds.
    pub fn leader_partition_in(
        &self,
        image: &MetadataImage,
        topic: &str,
        index: i32,
    ) -> Result<Arc<Partition>, ErrorCode> {
        let partition = image
            .topic(topic)
            .and_then(|t| t.partitions.get(&index))
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if partition.leader != self.config.node_id {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        self.replicas.get(topic, index).ok_or(ErrorCode::NotLeaderOrFollower)
    }

    /// Asks the controller for a metadata change and returns once this broker's image reflects it
    /// (single-node mode: the change is decided here, committed to the local metadata log and applied).
    pub async fn execute(&self, request: ControllerRequest) -> Result<ControllerReply, OpError> {
        match &self.metadata {
            MetadataSource::Local(_) => {
                self.commit_with(|image| request::decide(image, &request, Uuid::new_v4()))
            }
            MetadataSource::Cluster(cluster) => cluster.execute(&request).await,
        }
    }

    /// Hands out a new producer id, reserving blocks of ids through the controller.
    pub async fn next_producer_id(&self) -> Result<i64, OpError> {
        let mut ids = self.producer_ids.lock().await;
        if ids.0 >= ids.1 {
            let reply =
                self.execute(ControllerRequest::AllocateProducerIds { size: PRODUCER_ID_BLOCK }).await?;
            let ControllerReply::ProducerIds { first } = reply else {
                return Err(OpError {
                    code: ErrorCode::UnknownServerError,
                    message: format!("unexpected reply {reply:?}"),
                });
            };
            *ids = (first, first + PRODUCER_ID_BLOCK);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }
}

/// Reads `cluster.id` from `<data>/meta.properties` (`None` before the first start). Refuses a data
/// directory that belongs to another node id.
pub fn read_meta(data_dir: &Path, node_id: i32) -> std::io::Result<Option<String>> {
    let path = data_dir.join("meta.properties");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let get = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::trim)
    };
    if let Some(stored) = get("node.id").and_then(|v| v.parse::<i32>().ok()).filter(|s| *s != node_id) {
        return Err(std::io::Error::other(format!(
            "{} belongs to node.id {stored}, not {node_id}",
            path.display()
        )));
    }
    Ok(get("cluster.id").map(str::to_string))
}

/// Writes `<data>/meta.properties` (temp file, fsync, rename).
pub fn write_meta(data_dir: &Path, node_id: i32, cluster_id: &str) -> std::io::Result<()> {
    let tmp = data_dir.join("meta.properties.tmp");
    std::fs::write(&tmp, format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, data_dir.join("meta.properties"))
}

/// Reads `cluster.id`, creating `meta.properties` with a new random id on first start (single node).
pub fn load_or_create_meta(data_dir: &Path, node_id: i32) -> std::io::Result<String> {
    if let Some(id) = read_meta(data_dir, node_id)? {
        return Ok(id);
    }
    let cluster_id = Uuid::new_v4().simple().to_string()[..22].to_string();
    write_meta(data_dir, node_id, &cluster_id)?;
    Ok(cluster_id)
}
