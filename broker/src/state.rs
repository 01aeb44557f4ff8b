//! Everything a request handler can reach: configuration, the metadata image and its store, the
//! hosted partitions, the producer-id allocator and the clock.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::error_code::ErrorCode;
use crate::metadata::ops::{self, OpError};
use crate::metadata::{MetadataImage, MetadataRecord, MetadataStore};
use crate::replica_manager::ReplicaManager;

/// Producer ids reserved per metadata record.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// Shared broker state.
pub struct BrokerState {
    /// Node configuration.
    pub config: BrokerConfig,
    /// Cluster id from `meta.properties`.
    pub cluster_id: String,
    /// Durable metadata log and current image.
    pub metadata: MetadataStore,
    /// Hosted partitions.
    pub replicas: ReplicaManager,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Serialises commit + apply so partitions always follow images in order.
    commit_lock: Mutex<()>,
    /// Unused part of the current producer-id block: [next, end).
    producer_ids: Mutex<(i64, i64)>,
}

impl BrokerState {
    /// Assembles the state; the caller has opened the store and replica manager.
    pub fn new(
        config: BrokerConfig,
        cluster_id: String,
        metadata: MetadataStore,
        replicas: ReplicaManager,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            cluster_id,
            metadata,
            replicas,
            clock,
            commit_lock: Mutex::new(()),
            producer_ids: Mutex::new((0, 0)),
        }
    }

    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.metadata.image()
    }

    /// Computes records from the current image with `op`, commits them (fsync) and applies the new
    /// image to the hosted partitions before returning. The closure runs under the commit lock, so it
    /// always sees the latest image.
    pub fn commit_with<T>(
        &self,
        op: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), OpError>,
    ) -> Result<T, OpError> {
        let _guard = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (records, out) = op(&self.image())?;
        if records.is_empty() {
            return Ok(out);
        }
        let image = self
            .metadata
            .commit(&records)
            .map_err(|e| OpError { code: ErrorCode::UnknownServerError, message: e.to_string() })?;
        self.replicas
            .apply_image(&image, self.clock.now_ms())
            .map_err(|e| OpError { code: ErrorCode::UnknownServerError, message: e.to_string() })?;
        Ok(out)
    }

    /// Hands out a new producer id, reserving blocks of ids in the metadata log.
    pub fn next_producer_id(&self) -> Result<i64, OpError> {
        let mut ids = self.producer_ids.lock().unwrap_or_else(|e| e.into_inner());
        if ids.0 >= ids.1 {
            let first = self.commit_with(|image| {
                let (first, record) = ops::allocate_producer_ids(image, PRODUCER_ID_BLOCK);
                Ok((vec![record], first))
            })?;
            *ids = (first, first + PRODUCER_ID_BLOCK);
        }
        let id = ids.0;
        ids.0 += 1;
        Ok(id)
    }
}

/// Reads `cluster.id` from `<data>/meta.properties`, creating the file (new random id) on first start.
/// Refuses a data directory that belongs to another node id.
pub fn load_or_create_meta(data_dir: &Path, node_id: i32) -> std::io::Result<String> {
    let path = data_dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let get = |key: &str| {
            text.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::trim)
        };
        if let Some(stored) = get("node.id").and_then(|v| v.parse::<i32>().ok()).filter(|s| *s != node_id) {
            return Err(std::io::Error::other(format!(
                "{} belongs to node.id {stored}, not {node_id}",
                path.display()
            )));
        }
        if let Some(id) = get("cluster.id") {
            return Ok(id.to_string());
        }
    }
    let cluster_id = uuid::Uuid::new_v4().simple().to_string()[..22].to_string();
    let tmp = data_dir.join("meta.properties.tmp");
    std::fs::write(&tmp, format!("version=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(cluster_id)
}
