//! Requests that change cluster metadata, as the active controller receives them (from its own gRPC
//! clients or, in single-node mode, from the broker's local store), and the one pure function that turns
//! a request into records: `decide(image, request) → (records, reply) | error`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error_code::ErrorCode;
use crate::metadata::ops::{self, CreateDefaults, NewTopic, OpError};
use crate::metadata::{MetadataImage, MetadataRecord};

/// A metadata change asked of the active controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControllerRequest {
    /// CreateTopics for one topic.
    CreateTopic {
        /// Topic name.
        name: String,
        /// Partition count, -1 for `default_partitions`.
        num_partitions: i32,
        /// Replication factor, -1 for `default_replication_factor`.
        replication_factor: i16,
        /// Manual assignment: partition → replicas.
        assignments: Vec<(i32, Vec<i32>)>,
        /// Config overrides.
        configs: Vec<(String, String)>,
        /// `num.partitions` of the asking broker.
        default_partitions: i32,
        /// `default.replication.factor` of the asking broker.
        default_replication_factor: i16,
        /// Check only.
        validate_only: bool,
    },
    /// DeleteTopics for one topic, by name or (when `name` is `None`) by id.
    DeleteTopic {
        /// Topic name.
        name: Option<String>,
        /// Topic id.
        topic_id: Uuid,
    },
    /// CreatePartitions for one topic.
    CreatePartitions {
        /// Topic name.
        name: String,
        /// New total partition count.
        count: i32,
        /// Replicas of each new partition, or automatic placement.
        assignments: Option<Vec<Vec<i32>>>,
        /// Check only.
        validate_only: bool,
    },
    /// AlterConfigs / IncrementalAlterConfigs for one topic: `Some` sets, `None` deletes.
    AlterTopicConfigs {
        /// Topic name.
        name: String,
        /// Changes.
        changes: Vec<(String, Option<String>)>,
        /// Legacy AlterConfigs: overrides not named are removed.
        replace_all: bool,
        /// Check only.
        validate_only: bool,
    },
    /// A block of producer ids.
    AllocateProducerIds {
        /// Ids wanted.
        size: i64,
    },
}

/// What a successful request produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControllerReply {
    /// Applied (or validated) with nothing to report.
    Done,
    /// A topic was created (or would be, with `validate_only`).
    TopicCreated {
        /// The new topic's id (nil when only validated).
        topic_id: Uuid,
    },
    /// A topic was deleted.
    TopicDeleted {
        /// Its name.
        name: String,
        /// Its id.
        topic_id: Uuid,
    },
    /// Producer ids `[first, first + size)` are reserved for the asker.
    ProducerIds {
        /// First id of the block.
        first: i64,
    },
}

/// A rejected request in a form that crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestError {
    /// Kafka error code.
    pub code: i16,
    /// Reason for the client.
    pub message: String,
}

impl From<OpError> for RequestError {
    fn from(e: OpError) -> Self {
        Self { code: e.code.code(), message: e.message }
    }
}

/// Records and reply of a request, or why it is refused. Pure: `topic_id` is the id a new topic gets.
/// Requests with `validate_only` return no records.
pub fn decide(
    image: &MetadataImage,
    request: &ControllerRequest,
    topic_id: Uuid,
) -> Result<(Vec<MetadataRecord>, ControllerReply), OpError> {
    match request {
        ControllerRequest::CreateTopic {
            name,
            num_partitions,
            replication_factor,
            assignments,
            configs,
            default_partitions,
            default_replication_factor,
            validate_only,
        } => {
            let topic = NewTopic {
                name: name.clone(),
                num_partitions: *num_partitions,
                replication_factor: *replication_factor,
                assignments: assignments.clone(),
                configs: configs.clone(),
            };
            let defaults = CreateDefaults {
                num_partitions: *default_partitions,
                replication_factor: *default_replication_factor,
            };
            let records = ops::create_topic(image, &topic, defaults, topic_id)?;
            if *validate_only {
                return Ok((vec![], ControllerReply::TopicCreated { topic_id: Uuid::nil() }));
            }
            Ok((records, ControllerReply::TopicCreated { topic_id }))
        }
        ControllerRequest::DeleteTopic { name, topic_id } => {
            let records = ops::delete_topic(image, name.as_deref(), *topic_id)?;
            let deleted = name
                .as_deref()
                .and_then(|n| image.topic(n))
                .or_else(|| image.topic_by_id(*topic_id))
                .map(|t| (t.name.clone(), t.topic_id))
                .ok_or_else(|| OpError {
                    code: ErrorCode::UnknownTopicOrPartition,
                    message: "unknown topic".into(),
                })?;
            Ok((records, ControllerReply::TopicDeleted { name: deleted.0, topic_id: deleted.1 }))
        }
        ControllerRequest::CreatePartitions { name, count, assignments, validate_only } => {
            let records = ops::create_partitions(image, name, *count, assignments.as_deref())?;
            Ok((if *validate_only { vec![] } else { records }, ControllerReply::Done))
        }
        ControllerRequest::AlterTopicConfigs { name, changes, replace_all, validate_only } => {
            let records = ops::alter_topic_configs(image, name, changes, *replace_all)?;
            Ok((if *validate_only { vec![] } else { records }, ControllerReply::Done))
        }
        ControllerRequest::AllocateProducerIds { size } => {
            if *size <= 0 {
                return Err(OpError {
                    code: ErrorCode::InvalidRequest,
                    message: "block size must be positive".into(),
                });
            }
            let (first, record) = ops::allocate_producer_ids(image, *size);
            Ok((vec![record], ControllerReply::ProducerIds { first }))
        }
    }
}
