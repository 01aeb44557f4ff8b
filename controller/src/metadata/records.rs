//! Metadata records: every change to cluster state is one of these, replayed into the image.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to cluster metadata. The local store writes them as JSON lines; the controller quorum
/// will carry the same records in its Raft log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MetadataRecord {
    /// A broker joined (or re-registered with new endpoints).
    RegisterBroker {
        /// Broker id.
        broker_id: i32,
        /// Advertised host.
        host: String,
        /// Advertised Kafka port.
        port: i32,
        /// Rack, if any.
        rack: Option<String>,
    },
    /// A topic was created.
    Topic {
        /// Topic name.
        name: String,
        /// Topic id.
        topic_id: Uuid,
    },
    /// A partition was created or its leadership/replicas changed.
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
    /// A topic and its partitions and configs were deleted.
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
    /// A block of producer ids was handed out; the next block starts at `next_producer_id`.
    ProducerIds {
        /// First producer id not yet handed out.
        next_producer_id: i64,
    },
}
