//! The openraft type configuration: what a Raft log entry carries and how nodes are named.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::metadata::MetadataRecord;

/// The application data of one Raft log entry: metadata records committed together.
///
/// A batch is atomic: its records are replayed into the image in order, all in the same apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataBatch {
    /// The records, in replay order.
    pub records: Vec<MetadataRecord>,
}

openraft::declare_raft_types!(
    /// Strom's controller Raft: entries carry [`MetadataBatch`]es, the response is the entry's log
    /// index, nodes are `u64` ids with a gRPC address.
    pub TypeConfig:
        D = MetadataBatch,
        R = u64,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A controller's node id in the Raft quorum.
pub type NodeId = u64;

/// The Raft node.
pub type Raft = openraft::Raft<TypeConfig>;

/// One Raft log entry.
pub type Entry = openraft::Entry<TypeConfig>;

/// A log id (term, leader and index).
pub type LogId = openraft::LogId<NodeId>;

/// A storage error as openraft reports it.
pub type StorageError = openraft::StorageError<NodeId>;

/// Membership as stored with the last applied membership entry.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

/// Metadata of a snapshot.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
