//! Requests that change cluster metadata, as the active controller receives them (from its own gRPC
//! clients or, in single-node mode, from the broker's local store), and the one pure function that turns
//! a request into records: `decide(image, request) → (records, reply) | error`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::collections::BTreeSet;

use crate::error_code::ErrorCode;
use crate::metadata::acl::{AclBinding, AclFilter};
use crate::metadata::ops::{self, AclDeletion, CreateDefaults, NewTopic, OpError};
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
    /// AlterConfigs / IncrementalAlterConfigs for a broker (`broker_id`) or the cluster-wide broker
    /// default (`None`): `Some` sets, `None` deletes.
    AlterBrokerConfigs {
        /// Broker id, or `None` for the cluster default (Kafka's empty resource name).
        broker_id: Option<i32>,
        /// Changes.
        changes: Vec<(String, Option<String>)>,
        /// Legacy AlterConfigs: overrides not named are removed.
        replace_all: bool,
        /// Check only.
        validate_only: bool,
    },
    /// AlterPartition from a partition leader: a new ISR (or leader recovery state), fenced by broker,
    /// leader and partition epochs.
    AlterPartition {
        /// The change asked for.
        request: ops::AlterPartitionRequest,
    },
    /// AlterPartitionReassignments for one partition: move it to `target`, or cancel the reassignment
    /// in progress (`None`).
    AlterPartitionReassignment {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// Target replicas, or `None` to cancel.
        target: Option<Vec<i32>>,
    },
    /// OffsetCommit for several groups at once (a broker batches the commits that arrive while its
    /// previous batch is in flight into one Raft write).
    CommitOffsets {
        /// Each group's commits, in arrival order.
        commits: Vec<GroupCommit>,
        /// When the broker accepted them (ms since the Unix epoch).
        now_ms: i64,
    },
    /// Deletes a group's committed offsets (OffsetDelete, DeleteGroups, expiry): the named partitions,
    /// or all of them.
    DeleteOffsets {
        /// Group id.
        group: String,
        /// `(topic, partition)` pairs, or `None` for every offset of the group.
        partitions: Option<Vec<(String, i32)>>,
    },
    /// A replica discarded part of its log to follow its leader (the data-loss ledger records it when
    /// an unclean election explains it).
    ReportTruncation {
        /// What was discarded.
        report: ops::TruncationReport,
    },
    /// A block of producer ids.
    AllocateProducerIds {
        /// Ids wanted.
        size: i64,
    },
    /// CreateAcls: each binding succeeds or fails on its own.
    CreateAcls {
        /// Bindings to store.
        bindings: Vec<AclBinding>,
    },
    /// DeleteAcls: each filter removes the ACLs it matches, or fails on its own.
    DeleteAcls {
        /// Filters, in request order.
        filters: Vec<AclFilter>,
    },
    /// ElectLeaders: a preferred or unclean election for each partition, each on its own.
    ElectLeaders {
        /// Preferred or unclean.
        election_type: ops::ElectionType,
        /// Topic → partition indexes, or `None` for every partition of every topic.
        partitions: Option<Vec<(String, Vec<i32>)>>,
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
    /// The partition's state after an AlterPartition.
    PartitionState {
        /// Leader, epochs, ISR and recovery state.
        state: ops::PartitionState,
    },
    /// Producer ids `[first, first + size)` are reserved for the asker.
    ProducerIds {
        /// First id of the block.
        first: i64,
    },
    /// CreateAcls outcome, one entry per binding in request order.
    AclsCreated {
        /// `Ok` when the binding is stored (or already was).
        results: Vec<Result<(), RequestError>>,
    },
    /// DeleteAcls outcome, one entry per filter in request order.
    AclsDeleted {
        /// The bindings each filter matched (and removed).
        results: Vec<Result<Vec<AclBinding>, RequestError>>,
    },
    /// ElectLeaders outcome, per topic in request order (name order for "every partition").
    LeadersElected {
        /// Each topic's partitions and their outcomes.
        results: Vec<TopicElectionResult>,
    },
    /// CommitOffsets outcome, one entry per group in request order: an error code per partition (in
    /// request order), or the error that rejected the whole group.
    OffsetsCommitted {
        /// Per group.
        results: Vec<Result<Vec<i16>, RequestError>>,
    },
}

/// One topic's ElectLeaders outcome in a form that crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicElectionResult {
    /// Topic name as asked.
    pub topic: String,
    /// Partition index and its outcome.
    pub partitions: Vec<(i32, Result<(), RequestError>)>,
}

impl From<ops::TopicElection> for TopicElectionResult {
    fn from(t: ops::TopicElection) -> Self {
        let partitions = t.partitions.into_iter().map(|(p, r)| (p, r.map_err(RequestError::from))).collect();
        Self { topic: t.topic, partitions }
    }
}

/// One group's part of [`ControllerRequest::CommitOffsets`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCommit {
    /// Group id.
    pub group: String,
    /// Partitions and offsets.
    pub entries: Vec<ops::OffsetCommitEntry>,
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

/// Records and reply of a request, or why it is refused. Pure: `topic_id` is the id a new topic gets,
/// and the `i`-th binding of CreateAcls gets `topic_id + i`. Requests with `validate_only` return no
/// records.
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
        ControllerRequest::AlterBrokerConfigs { broker_id, changes, replace_all, validate_only } => {
            let records = ops::alter_broker_configs(image, *broker_id, changes, *replace_all)?;
            Ok((if *validate_only { vec![] } else { records }, ControllerReply::Done))
        }
        ControllerRequest::AlterPartition { request } => {
            let (records, state) = ops::alter_partition(image, request)?;
            Ok((records, ControllerReply::PartitionState { state }))
        }
        ControllerRequest::AlterPartitionReassignment { topic, partition, target } => {
            Ok((ops::alter_reassignment(image, topic, *partition, target.as_deref())?, ControllerReply::Done))
        }
        ControllerRequest::CommitOffsets { commits, now_ms } => {
            let mut records = Vec::new();
            let mut results = Vec::with_capacity(commits.len());
            for commit in commits {
                let outcome = ops::commit_offsets(
                    image,
                    &commit.group,
                    &commit.entries,
                    *now_ms,
                    ops::DEFAULT_OFFSET_METADATA_MAX_BYTES,
                );
                results.push(match outcome {
                    Ok((group_records, codes)) => {
                        records.extend(group_records);
                        Ok(codes.into_iter().map(ErrorCode::code).collect())
                    }
                    Err(e) => Err(RequestError::from(e)),
                });
            }
            Ok((records, ControllerReply::OffsetsCommitted { results }))
        }
        ControllerRequest::DeleteOffsets { group, partitions } => {
            Ok((ops::delete_offsets(image, group, partitions.as_deref()), ControllerReply::Done))
        }
        ControllerRequest::ReportTruncation { report } => {
            Ok((ops::report_truncation(image, report)?, ControllerReply::Done))
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
        ControllerRequest::CreateAcls { bindings } => Ok(create_acls(image, bindings, topic_id)),
        ControllerRequest::DeleteAcls { filters } => Ok(delete_acls(image, filters)),
        ControllerRequest::ElectLeaders { election_type, partitions } => {
            let (records, results) = ops::elect_leaders(image, *election_type, partitions.as_deref());
            let results = results.into_iter().map(TopicElectionResult::from).collect();
            Ok((records, ControllerReply::LeadersElected { results }))
        }
    }
}

/// CreateAcls: the `i`-th binding is stored under `base + i`; a binding named twice is stored once.
fn create_acls(
    image: &MetadataImage,
    bindings: &[AclBinding],
    base: Uuid,
) -> (Vec<MetadataRecord>, ControllerReply) {
    let mut records = Vec::new();
    let mut created: Vec<&AclBinding> = Vec::new();
    let mut results = Vec::with_capacity(bindings.len());
    for (i, binding) in bindings.iter().enumerate() {
        let id = Uuid::from_u128(base.as_u128().wrapping_add(i as u128));
        match ops::create_acl(image, binding, id) {
            Ok(new) => {
                if !created.contains(&binding) {
                    created.push(binding);
                    records.extend(new);
                }
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e.into())),
        }
    }
    (records, ControllerReply::AclsCreated { results })
}

/// DeleteAcls: every filter reports all ACLs it matches; an ACL matched by several filters is removed
/// once.
fn delete_acls(image: &MetadataImage, filters: &[AclFilter]) -> (Vec<MetadataRecord>, ControllerReply) {
    let mut records = Vec::new();
    let mut removed = BTreeSet::new();
    let mut results = Vec::with_capacity(filters.len());
    for filter in filters {
        match ops::delete_acls(image, filter) {
            Ok(AclDeletion { matched, records: _ }) => {
                for (id, _) in &matched {
                    if removed.insert(*id) {
                        records.push(MetadataRecord::RemoveAccessControlEntry { id: *id });
                    }
                }
                results.push(Ok(matched.into_iter().map(|(_, binding)| binding).collect()));
            }
            Err(e) => results.push(Err(e.into())),
        }
    }
    (records, ControllerReply::AclsDeleted { results })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::acl::{AclOperation, AclPatternType, AclPermissionType, AclResourceType};

    fn binding(principal: &str) -> AclBinding {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: "orders".into(),
            pattern_type: AclPatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission_type: AclPermissionType::Allow,
        }
    }

    fn filter(principal: Option<&str>) -> AclFilter {
        AclFilter {
            resource_type: AclResourceType::Any,
            resource_name: None,
            pattern_type: AclPatternType::Any,
            principal: principal.map(Into::into),
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    fn apply(image: &mut MetadataImage, request: ControllerRequest, base: u128) -> ControllerReply {
        let (records, reply) = decide(image, &request, Uuid::from_u128(base)).expect("decide");
        for r in &records {
            image.replay(r);
        }
        reply
    }

    #[test]
    fn create_acls_reports_each_binding_and_stores_duplicates_once() {
        let mut image = MetadataImage::default();
        let bad = AclBinding { resource_type: AclResourceType::Any, ..binding("User:a") };
        let request =
            ControllerRequest::CreateAcls { bindings: vec![binding("User:a"), bad, binding("User:a")] };
        let ControllerReply::AclsCreated { results } = apply(&mut image, request, 100) else {
            panic!("wrong reply");
        };
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(results[1].as_ref().unwrap_err().code, ErrorCode::InvalidRequest.code());
        assert_eq!(image.acls().map(|(id, _)| id).collect::<Vec<_>>(), vec![Uuid::from_u128(100)]);
    }

    #[test]
    fn delete_acls_reports_overlapping_matches_and_removes_once() {
        let mut image = MetadataImage::default();
        let request = ControllerRequest::CreateAcls { bindings: vec![binding("User:a"), binding("User:b")] };
        apply(&mut image, request, 1);
        let bad = AclFilter { operation: AclOperation::Unknown, ..filter(None) };
        let request =
            ControllerRequest::DeleteAcls { filters: vec![filter(Some("User:a")), filter(None), bad] };
        let (records, reply) = decide(&image, &request, Uuid::nil()).expect("decide");
        assert_eq!(records.len(), 2);
        let ControllerReply::AclsDeleted { results } = reply else { panic!("wrong reply") };
        assert_eq!(results[0].as_ref().map(Vec::len), Ok(1));
        assert_eq!(results[1].as_ref().map(Vec::len), Ok(2));
        assert_eq!(results[2].as_ref().unwrap_err().code, ErrorCode::InvalidRequest.code());
    }

    #[test]
    fn elect_leaders_survives_json_and_reports_per_partition() {
        let request = ControllerRequest::ElectLeaders {
            election_type: ops::ElectionType::Preferred,
            partitions: Some(vec![("missing".into(), vec![0, 1])]),
        };
        let json = serde_json::to_vec(&request).expect("encode");
        assert_eq!(serde_json::from_slice::<ControllerRequest>(&json).expect("decode"), request);
        let (records, reply) = decide(&MetadataImage::default(), &request, Uuid::nil()).expect("decide");
        assert!(records.is_empty());
        let json = serde_json::to_vec(&reply).expect("encode reply");
        let ControllerReply::LeadersElected { results } =
            serde_json::from_slice::<ControllerReply>(&json).expect("decode reply")
        else {
            panic!("wrong reply")
        };
        let codes: Vec<(i32, i16)> = results[0]
            .partitions
            .iter()
            .map(|(p, r)| (*p, r.as_ref().map_or_else(|e| e.code, |()| 0)))
            .collect();
        assert_eq!(codes, vec![(0, 3), (1, 3)], "UNKNOWN_TOPIC_OR_PARTITION");
    }

    #[test]
    fn acl_requests_survive_json() {
        let request = ControllerRequest::DeleteAcls { filters: vec![filter(Some("User:a"))] };
        let json = serde_json::to_vec(&request).expect("encode");
        assert_eq!(serde_json::from_slice::<ControllerRequest>(&json).expect("decode"), request);
    }

    #[test]
    fn alter_partition_through_decide_is_fenced_by_partition_epoch() {
        let mut image = MetadataImage::default();
        for id in [1, 2] {
            image.replay(&MetadataRecord::RegisterBroker {
                broker_id: id,
                incarnation_id: Uuid::from_u128(id as u128),
                host: "h".into(),
                port: 9092,
                endpoints: Vec::new(),
                rack: None,
                fenced: false,
            });
        }
        let create = ControllerRequest::CreateTopic {
            name: "t".into(),
            num_partitions: 1,
            replication_factor: 2,
            assignments: vec![],
            configs: vec![],
            default_partitions: 1,
            default_replication_factor: 1,
            validate_only: false,
        };
        let ControllerReply::TopicCreated { topic_id } = apply(&mut image, create, 7) else {
            panic!("created")
        };
        let partition = image.topic("t").expect("topic").partitions[&0].clone();
        let leader = partition.leader;
        let alter = ops::AlterPartitionRequest {
            broker_id: leader,
            broker_epoch: image.broker(leader).expect("leader").broker_epoch,
            topic_id,
            partition: 0,
            leader_epoch: partition.leader_epoch,
            partition_epoch: partition.partition_epoch,
            new_isr: vec![leader],
            leader_recovery_state: partition.leader_recovery_state,
        };
        let request = ControllerRequest::AlterPartition { request: alter.clone() };
        let ControllerReply::PartitionState { state } = apply(&mut image, request.clone(), 8) else {
            panic!("state")
        };
        assert_eq!((state.isr.clone(), state.partition_epoch), (vec![leader], partition.partition_epoch + 1));
        let stale = decide(&image, &request, Uuid::nil()).expect_err("stale partition epoch");
        assert_eq!(stale.code, ErrorCode::InvalidUpdateVersion);
        let json = serde_json::to_string(&request).expect("serialize");
        assert_eq!(serde_json::from_str::<ControllerRequest>(&json).expect("parse"), request);
    }
}
