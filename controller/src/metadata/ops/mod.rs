//! Metadata operations as pure functions: `(image, request) → records` (plus a response where the
//! request has one), or the Kafka error that rejects the request. Nothing here does I/O, reads a clock
//! or draws random numbers: ids and times come in as arguments, and the caller commits the records and
//! replays them into the image.
//!
//! ```text
//!  request ─► op(&image, request) ─► Ok(records[, response]) ─► metadata log ─► image.replay(record)
//!                                 └► Err(OpError { code, message }) ─► client
//! ```
//!
//! One file per concern: [`topics`] (CreateTopics, DeleteTopics, CreatePartitions, topic configs),
//! [`placement`] (replica placement), [`election`] (leader and ISR changes), [`elect_leaders`]
//! (ElectLeaders: preferred and unclean elections on request), [`leader_balance`] (which partitions
//! automatic leader rebalancing moves back to their preferred replica), [`brokers`] (registration,
//! heartbeats, fencing, controlled shutdown), [`heartbeat`] (session tracking), [`partitions`]
//! (AlterPartition), [`data_loss`] (the data-loss ledger), [`reassignment`], [`broker_configs`], [`acls`], [`offsets`] and [`producer_ids`].

pub mod acls;
pub mod broker_configs;
pub mod brokers;
pub mod data_loss;
pub mod elect_leaders;
pub mod election;
pub mod heartbeat;
pub mod leader_balance;
pub mod offsets;
pub mod partitions;
pub mod placement;
pub mod producer_ids;
pub mod reassignment;
#[cfg(test)]
pub(crate) mod test_support;
pub mod topics;

pub use acls::{AclDeletion, create_acl, delete_acls, validate_acl_binding, validate_acl_filter};
pub use broker_configs::{alter_broker_configs, validate_broker_config};
pub use brokers::{
    BrokerHeartbeat, BrokerRegistration, HeartbeatResponse, broker_heartbeat, controlled_shutdown,
    fence_broker, register_broker, unfence_broker,
};
pub use data_loss::{TruncationReport, report_truncation};
pub use elect_leaders::{ElectionType, TopicElection, elect_leaders};
pub use heartbeat::BrokerHeartbeatTracker;
pub use leader_balance::{LeaderImbalance, leader_imbalance, partitions_to_rebalance};
pub use offsets::{DEFAULT_OFFSET_METADATA_MAX_BYTES, OffsetCommitEntry, commit_offsets, delete_offsets};
pub use partitions::{AlterPartitionRequest, PartitionState, alter_partition};
pub use placement::place_replicas;
pub use producer_ids::allocate_producer_ids;
pub use reassignment::alter_reassignment;
pub use topics::{
    CreateDefaults, MAX_TOPIC_NAME_LEN, NewTopic, alter_topic_configs, create_partitions, create_topic,
    delete_topic, validate_topic_name,
};

use crate::error_code::ErrorCode;

/// A rejected metadata operation: Kafka error code plus a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// Wire error code.
    pub code: ErrorCode,
    /// Human-readable reason.
    pub message: String,
}

impl OpError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for OpError {}
