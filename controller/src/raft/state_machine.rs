//! The metadata state machine: committed [`MetadataBatch`]es replayed into a [`MetadataImage`].
//!
//! [`StateMachineStore`] implements openraft's `RaftStateMachine` (v2). The image lives in memory and
//! is published through [`AppliedImage`] (copy-on-write `Arc`, a broadcast of applied batches and a
//! watch of the applied index). Only snapshots are persisted (sled tree `snapshot`: `meta` and
//! `data`, the image as JSON); after a restart the image is the last snapshot and openraft re-applies
//! the committed log after it.
//!
//! [`MetadataBatch`]: super::type_config::MetadataBatch

use std::io::Cursor;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use tokio::sync::{broadcast, watch};

use super::type_config::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::metadata::{MetadataImage, MetadataRecord};

const SNAPSHOT_TREE: &str = "snapshot";
const KEY_META: &[u8] = b"meta";
const KEY_DATA: &[u8] = b"data";

/// How many applied batches a slow subscriber may fall behind before it sees `Lagged`.
const BROADCAST_CAPACITY: usize = 4096;

/// One applied Raft log entry: its log index and its records (empty for Raft's own entries).
pub type AppliedBatch = (u64, Vec<MetadataRecord>);

/// What the state machine has applied, shared with readers of this node.
///
/// Every applied log entry is broadcast, in log order, with consecutive indexes; a subscriber that
/// sees a gap (a snapshot was installed) or `Lagged` re-reads [`AppliedImage::image`].
#[derive(Debug)]
pub struct AppliedImage {
    image: RwLock<Arc<MetadataImage>>,
    /// Log index the image reflects; written only under the image's write lock.
    image_index: std::sync::atomic::AtomicU64,
    applied_tx: watch::Sender<u64>,
    batches_tx: broadcast::Sender<AppliedBatch>,
}

impl AppliedImage {
    fn new() -> Self {
        Self {
            image: RwLock::new(Arc::new(MetadataImage::default())),
            image_index: std::sync::atomic::AtomicU64::new(0),
            applied_tx: watch::channel(0).0,
            batches_tx: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }

    /// The image as of the last applied entry (a cheap `Arc` clone; never changes afterwards).
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.image.read().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Highest applied log index (0 when none).
    pub fn applied_index(&self) -> u64 {
        *self.applied_tx.borrow()
    }

    /// A receiver that changes whenever the applied index grows.
    pub fn watch_applied(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    /// Applied batches from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AppliedBatch> {
        self.batches_tx.subscribe()
    }

    /// The image together with the log index it reflects, read atomically.
    pub fn snapshot(&self) -> (Arc<MetadataImage>, u64) {
        let guard = self.image.read().unwrap_or_else(|poison| poison.into_inner());
        (Arc::clone(&guard), self.image_index.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn replace(&self, image: MetadataImage, applied_index: u64) {
        let mut guard = self.image.write().unwrap_or_else(|poison| poison.into_inner());
        *guard = Arc::new(image);
        self.image_index.store(applied_index, std::sync::atomic::Ordering::SeqCst);
        drop(guard);
        self.applied_tx.send_replace(applied_index);
    }
}

/// The state machine store: the in-memory image plus the persisted snapshot.
#[derive(Debug)]
pub struct StateMachineStore {
    applied: Arc<AppliedImage>,
    db: sled::Db,
    snapshots: sled::Tree,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
}

impl StateMachineStore {
    /// Opens the snapshot tree in `db` and loads the image from the last snapshot, if any.
    pub fn open(db: &sled::Db) -> Result<Self, StorageError> {
        let snapshots = db.open_tree(SNAPSHOT_TREE).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let mut store = Self {
            applied: Arc::new(AppliedImage::new()),
            db: db.clone(),
            snapshots,
            last_applied: None,
            last_membership: StoredMembership::default(),
        };
        if let Some((meta, data)) = store.read_snapshot()? {
            let image = decode_image(&meta, &data)?;
            store.applied.replace(image, meta.last_log_id.map_or(0, |id| id.index));
            store.last_applied = meta.last_log_id;
            store.last_membership = meta.last_membership;
        }
        Ok(store)
    }

    /// The shared view of what this state machine applied.
    pub fn applied(&self) -> Arc<AppliedImage> {
        Arc::clone(&self.applied)
    }

    fn read_snapshot(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StorageError> {
        let read_err = |e: &dyn std::error::Error| StorageIOError::read_snapshot(None, &anyerror(e));
        let meta = self.snapshots.get(KEY_META).map_err(|e| read_err(&e))?;
        let data = self.snapshots.get(KEY_DATA).map_err(|e| read_err(&e))?;
        let (Some(meta), Some(data)) = (meta, data) else {
            return Ok(None);
        };
        let meta: SnapshotMeta = serde_json::from_slice(&meta).map_err(|e| read_err(&e))?;
        Ok(Some((meta, data.to_vec())))
    }
}

/// Persists a snapshot (meta and data in one atomic sled batch); returns once flushed.
async fn save_snapshot(
    db: &sled::Db,
    snapshots: &sled::Tree,
    meta: &SnapshotMeta,
    data: &[u8],
) -> Result<(), StorageError> {
    let write_err =
        |e: &dyn std::error::Error| StorageIOError::write_snapshot(Some(meta.signature()), &anyerror(e));
    let meta_json = serde_json::to_vec(meta).map_err(|e| write_err(&e))?;
    let mut batch = sled::Batch::default();
    batch.insert(KEY_META, meta_json);
    batch.insert(KEY_DATA, data);
    snapshots.apply_batch(batch).map_err(|e| write_err(&e))?;
    db.flush_async().await.map_err(|e| write_err(&e))?;
    Ok(())
}

fn decode_image(meta: &SnapshotMeta, data: &[u8]) -> Result<MetadataImage, StorageError> {
    serde_json::from_slice(data).map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e).into())
}

fn anyerror(e: &dyn std::error::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Builds a snapshot from the image as it was when the builder was made.
#[derive(Debug)]
pub struct SnapshotBuilder {
    image: Arc<MetadataImage>,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    db: sled::Db,
    snapshots: sled::Tree,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// Writes the image as JSON and persists it as the current snapshot; returns once flushed.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = serde_json::to_vec(&*self.image).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let snapshot_id = match self.last_applied {
            Some(id) => format!("{}-{}-{nanos}", id.leader_id, id.index),
            None => format!("none-{nanos}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_id,
        };
        save_snapshot(&self.db, &self.snapshots, &meta, &data).await?;
        tracing::info!(snapshot_id = %meta.snapshot_id, bytes = data.len(), "built metadata snapshot");
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    /// Replays each entry's records into the image (in memory), then publishes them. Nothing is
    /// persisted here: after a crash the committed log is re-applied on top of the last snapshot.
    async fn apply<I>(&mut self, entries: I) -> Result<Vec<u64>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut applied = Vec::new();
        {
            let mut guard = self.applied.image.write().unwrap_or_else(|poison| poison.into_inner());
            let image = Arc::make_mut(&mut guard);
            for entry in entries {
                self.last_applied = Some(entry.log_id);
                let records = match entry.payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(batch) => {
                        for record in &batch.records {
                            image.replay(record);
                        }
                        batch.records
                    }
                    EntryPayload::Membership(membership) => {
                        self.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                        Vec::new()
                    }
                };
                applied.push((entry.log_id.index, records));
            }
            if let Some(last) = self.last_applied {
                self.applied.image_index.store(last.index, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let responses = applied.iter().map(|(index, _)| *index).collect();
        if let Some(last) = self.last_applied {
            self.applied.applied_tx.send_replace(last.index);
        }
        for batch in applied {
            // No subscriber is fine: the batch is in the image.
            let _ = self.applied.batches_tx.send(batch);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            image: self.applied.image(),
            last_applied: self.last_applied,
            last_membership: self.last_membership.clone(),
            db: self.db.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    /// Replaces the image with the snapshot's and persists the snapshot; returns once flushed.
    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let image = decode_image(meta, &data)?;
        save_snapshot(&self.db, &self.snapshots, meta, &data).await?;
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        self.applied.replace(image, meta.last_log_id.map_or(0, |id| id.index));
        tracing::info!(snapshot_id = %meta.snapshot_id, "installed metadata snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.read_snapshot()?.map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}
