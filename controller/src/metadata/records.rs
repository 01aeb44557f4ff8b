//! Metadata records: every change to cluster state is one of these, replayed into the image.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::acl::AclBinding;
use super::image::{BrokerEndpoint, LeaderRecoveryState};

/// One change to cluster metadata. The local store writes them as JSON lines; the controller quorum
/// carries the same records in its Raft log.
///
/// Partition state is carried two ways: [`Partition`](Self::Partition) is the full state of a new
/// partition (replicas included); [`PartitionChange`](Self::PartitionChange) replaces the leader, ISR,
/// epochs and recovery state of an existing one and leaves its replicas alone. Both carry absolute
/// values, never deltas, so replaying a record twice is harmless. Fields added after the first
/// release have serde defaults, so logs written before them still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// A broker joined, or re-registered (new incarnation: it restarted, or new endpoints). Its broker
    /// epoch becomes the image offset of this record.
    RegisterBroker {
        /// Broker id.
        broker_id: i32,
        /// Identifies one run of the broker process; a new one means the broker restarted.
        #[serde(default)]
        incarnation_id: Uuid,
        /// Advertised host of the inter-broker listener.
        host: String,
        /// Advertised port of the inter-broker listener.
        port: i32,
        /// Every advertised listener (empty in records written before named listeners).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endpoints: Vec<BrokerEndpoint>,
        /// Rack, if any.
        rack: Option<String>,
        /// Registered fenced (the controller path: unfenced on its first heartbeat). Logs written before
        /// the field existed, and the single-node store, register unfenced.
        #[serde(default)]
        fenced: bool,
    },
    /// A broker's session expired or it finished a controlled shutdown: it may not lead or join ISRs.
    FenceBroker {
        /// Broker id.
        broker_id: i32,
    },
    /// A fenced broker heartbeat again: it may lead and rejoin ISRs. Ends a controlled shutdown.
    UnfenceBroker {
        /// Broker id.
        broker_id: i32,
    },
    /// A broker asked to shut down cleanly; it stays marked until it registers or is unfenced again.
    BrokerControlledShutdown {
        /// Broker id.
        broker_id: i32,
    },
    /// A topic was created.
    Topic {
        /// Topic name.
        name: String,
        /// Topic id.
        topic_id: Uuid,
    },
    /// A partition was created (full state; also replaces an existing partition's state).
    Partition {
        /// Owning topic.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// Replica broker ids, preferred leader first.
        replicas: Vec<i32>,
        /// In-sync replica ids.
        isr: Vec<i32>,
        /// Leader broker id, -1 when offline.
        leader: i32,
        /// Leader epoch.
        leader_epoch: i32,
        /// Partition epoch (bumped on every change).
        partition_epoch: i32,
    },
    /// An existing partition's leader, ISR or epochs changed; replicas are unchanged.
    PartitionChange {
        /// Owning topic.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// New leader, -1 when offline.
        leader: i32,
        /// New in-sync replicas (never empty).
        isr: Vec<i32>,
        /// Leader epoch (bumped when the leader changes).
        leader_epoch: i32,
        /// Partition epoch (bumped on every change).
        partition_epoch: i32,
        /// `Recovering` after an unclean election, until the leader reports it recovered.
        #[serde(default)]
        leader_recovery_state: LeaderRecoveryState,
    },
    /// A topic and its partitions and configs were deleted (and committed offsets for it).
    RemoveTopic {
        /// Topic id.
        topic_id: Uuid,
    },
    /// A topic config override was set (`Some`) or removed (`None`).
    TopicConfig {
        /// Topic name.
        topic: String,
        /// Kafka config name.
        name: String,
        /// New value, or `None` to return to the default.
        value: Option<String>,
    },
    /// A dynamic broker config was set (`Some`) or removed (`None`), for one broker or as the cluster
    /// default (Kafka's `ConfigRecord` with resource type BROKER).
    BrokerConfig {
        /// Broker id, or `None` for the cluster-wide default (Kafka's empty resource name).
        broker_id: Option<i32>,
        /// Kafka config name.
        name: String,
        /// New value, or `None` to remove the override.
        value: Option<String>,
    },
    /// An ACL was created.
    AccessControlEntry {
        /// Entry id (chosen by the controller).
        id: Uuid,
        /// What it allows or denies.
        binding: AclBinding,
    },
    /// An ACL was deleted.
    RemoveAccessControlEntry {
        /// Entry id.
        id: Uuid,
    },
    /// A consumer group committed an offset for one partition.
    OffsetCommit {
        /// Group id.
        group: String,
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// Committed offset (the next record the group will consume).
        offset: i64,
        /// Leader epoch of the committed offset's record, -1 when unknown.
        leader_epoch: i32,
        /// Client metadata.
        metadata: String,
        /// When the controller accepted the commit.
        commit_timestamp_ms: i64,
    },
    /// A group's committed offset was deleted (OffsetDelete, DeleteGroups, offset expiry); with
    /// `topic` `None`, every offset of the group.
    OffsetDelete {
        /// Group id.
        group: String,
        /// Topic name, or `None` for the whole group.
        topic: Option<String>,
        /// Partition index (ignored when `topic` is `None`).
        partition: i32,
    },
    /// A block of producer ids was handed out; the next block starts at `next_producer_id`.
    ProducerIds {
        /// First producer id not yet handed out.
        next_producer_id: i64,
    },
    /// A partition's replica set changed (reassignment started, completed or cancelled): Kafka's
    /// PartitionChangeRecord replica fields. The ISR and leader change with a `PartitionChange` in the
    /// same batch where needed.
    PartitionReassignment {
        /// Owning topic.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// All replicas (during a reassignment: the target first, then those being removed).
        replicas: Vec<i32>,
        /// Replicas being added.
        adding_replicas: Vec<i32>,
        /// Replicas being removed.
        removing_replicas: Vec<i32>,
        /// Partition epoch after the change.
        partition_epoch: i32,
    },
    /// Data-loss ledger: replica `broker_id` discarded offsets `[start_offset, end_offset)` of a
    /// partition to follow the leader of `leader_epoch`, which an unclean election (at
    /// `unclean_epoch`) had made leader without them.
    DataLoss {
        /// Topic id.
        topic_id: Uuid,
        /// Partition index.
        partition: i32,
        /// Leader epoch the replica was following when it truncated.
        leader_epoch: i32,
        /// The unclean election's leader epoch.
        unclean_epoch: i32,
        /// The replica that discarded the records.
        broker_id: i32,
        /// First offset discarded.
        start_offset: i64,
        /// One past the last offset discarded.
        end_offset: i64,
        /// When the controller recorded it (ms since the Unix epoch).
        timestamp_ms: i64,
    },
}
