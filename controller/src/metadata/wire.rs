//! The protobuf form of [`MetadataRecord`] (`proto/metadata.proto`, package `strom.metadata.v1`), as
//! carried on the broker watch stream.
//!
//! Encoding never fails. Decoding checks what protobuf cannot: a record must have its `oneof` set, UUIDs
//! must be exactly 16 bytes and enum values must be defined codes. It never panics on bad input.

use prost::Message;
use strom_proto::metadata as pb;
use strom_proto::metadata::metadata_record::Record;
use uuid::Uuid;

use super::acl::{AclBinding, AclOperation, AclPatternType, AclPermissionType, AclResourceType};
use super::image::{BrokerEndpoint, LeaderRecoveryState};
use super::records::MetadataRecord;

/// Why protobuf bytes did not decode into metadata records.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes are not a valid protobuf message.
    #[error("malformed protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A `MetadataRecord` had no field of its `record` oneof set.
    #[error("metadata record has no record set")]
    MissingRecord,
    /// A UUID field did not hold exactly 16 bytes.
    #[error("{field}: a UUID must be 16 bytes, got {len}")]
    BadUuid {
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// An enum field held a value that is not a defined code.
    #[error("{field}: unknown enum code {code}")]
    UnknownEnumCode {
        /// The field.
        field: &'static str,
        /// The value.
        code: i32,
    },
}

/// Encodes records as one `MetadataRecordBatch`.
pub fn encode_batch(records: &[MetadataRecord]) -> Vec<u8> {
    pb::MetadataRecordBatch { records: records.iter().map(pb::MetadataRecord::from).collect() }
        .encode_to_vec()
}

/// Decodes a `MetadataRecordBatch` into records, in order.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<MetadataRecord>, WireError> {
    pb::MetadataRecordBatch::decode(bytes)?.records.into_iter().map(MetadataRecord::try_from).collect()
}

fn uuid_bytes(id: &Uuid) -> Vec<u8> {
    id.as_bytes().to_vec()
}

fn uuid(field: &'static str, bytes: &[u8]) -> Result<Uuid, WireError> {
    Uuid::from_slice(bytes).map_err(|_| WireError::BadUuid { field, len: bytes.len() })
}

/// A Kafka `i8` code from a protobuf enum value, via the type's `from_code`.
fn code<T>(field: &'static str, value: i32, from_code: fn(i8) -> Option<T>) -> Result<T, WireError> {
    i8::try_from(value).ok().and_then(from_code).ok_or(WireError::UnknownEnumCode { field, code: value })
}

fn leader_recovery_state(value: i32) -> Result<LeaderRecoveryState, WireError> {
    match value {
        0 => Ok(LeaderRecoveryState::Recovered),
        1 => Ok(LeaderRecoveryState::Recovering),
        code => Err(WireError::UnknownEnumCode { field: "leader_recovery_state", code }),
    }
}

impl From<&MetadataRecord> for pb::MetadataRecord {
    fn from(record: &MetadataRecord) -> Self {
        let record = match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                host,
                port,
                endpoints,
                rack,
                fenced,
            } => Record::RegisterBroker(pb::RegisterBrokerRecord {
                broker_id: *broker_id,
                incarnation_id: uuid_bytes(incarnation_id),
                host: host.clone(),
                port: *port,
                rack: rack.clone(),
                fenced: *fenced,
                endpoints: endpoints
                    .iter()
                    .map(|e| pb::BrokerEndpoint { name: e.name.clone(), host: e.host.clone(), port: e.port })
                    .collect(),
            }),
            MetadataRecord::FenceBroker { broker_id } => {
                Record::FenceBroker(pb::FenceBrokerRecord { broker_id: *broker_id })
            }
            MetadataRecord::UnfenceBroker { broker_id } => {
                Record::UnfenceBroker(pb::UnfenceBrokerRecord { broker_id: *broker_id })
            }
            MetadataRecord::BrokerControlledShutdown { broker_id } => {
                Record::BrokerControlledShutdown(pb::BrokerControlledShutdownRecord { broker_id: *broker_id })
            }
            MetadataRecord::Topic { name, topic_id } => {
                Record::Topic(pb::TopicRecord { name: name.clone(), topic_id: uuid_bytes(topic_id) })
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => Record::Partition(pb::PartitionRecord {
                topic_id: uuid_bytes(topic_id),
                partition_id: *partition,
                replicas: replicas.clone(),
                isr: isr.clone(),
                leader: *leader,
                leader_epoch: *leader_epoch,
                partition_epoch: *partition_epoch,
            }),
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                leader,
                isr,
                leader_epoch,
                partition_epoch,
                leader_recovery_state,
            } => Record::PartitionChange(pb::PartitionChangeRecord {
                topic_id: uuid_bytes(topic_id),
                partition_id: *partition,
                leader: *leader,
                isr: isr.clone(),
                leader_epoch: *leader_epoch,
                partition_epoch: *partition_epoch,
                leader_recovery_state: i32::from(leader_recovery_state.code()),
            }),
            MetadataRecord::RemoveTopic { topic_id } => {
                Record::RemoveTopic(pb::RemoveTopicRecord { topic_id: uuid_bytes(topic_id) })
            }
            MetadataRecord::TopicConfig { topic, name, value } => {
                Record::TopicConfig(pb::TopicConfigRecord {
                    resource_name: topic.clone(),
                    name: name.clone(),
                    value: value.clone(),
                })
            }
            MetadataRecord::BrokerConfig { broker_id, name, value } => {
                Record::BrokerConfig(pb::BrokerConfigRecord {
                    broker_id: *broker_id,
                    name: name.clone(),
                    value: value.clone(),
                })
            }
            MetadataRecord::AccessControlEntry { id, binding } => {
                Record::AccessControlEntry(pb::AccessControlEntryRecord {
                    id: uuid_bytes(id),
                    resource_type: i32::from(binding.resource_type.code()),
                    resource_name: binding.resource_name.clone(),
                    pattern_type: i32::from(binding.pattern_type.code()),
                    principal: binding.principal.clone(),
                    host: binding.host.clone(),
                    operation: i32::from(binding.operation.code()),
                    permission_type: i32::from(binding.permission_type.code()),
                })
            }
            MetadataRecord::RemoveAccessControlEntry { id } => {
                Record::RemoveAccessControlEntry(pb::RemoveAccessControlEntryRecord { id: uuid_bytes(id) })
            }
            MetadataRecord::OffsetCommit {
                group,
                topic,
                partition,
                offset,
                leader_epoch,
                metadata,
                commit_timestamp_ms,
            } => Record::OffsetCommit(pb::OffsetCommitRecord {
                group: group.clone(),
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                leader_epoch: *leader_epoch,
                metadata: metadata.clone(),
                commit_timestamp: *commit_timestamp_ms,
            }),
            MetadataRecord::PartitionReassignment {
                topic_id,
                partition,
                replicas,
                adding_replicas,
                removing_replicas,
                partition_epoch,
            } => Record::PartitionReassignment(pb::PartitionReassignmentRecord {
                topic_id: uuid_bytes(topic_id),
                partition_id: *partition,
                replicas: replicas.clone(),
                adding_replicas: adding_replicas.clone(),
                removing_replicas: removing_replicas.clone(),
                partition_epoch: *partition_epoch,
            }),
            MetadataRecord::DataLoss {
                topic_id,
                partition,
                leader_epoch,
                unclean_epoch,
                broker_id,
                start_offset,
                end_offset,
                timestamp_ms,
            } => Record::DataLoss(pb::DataLossRecord {
                topic_id: uuid_bytes(topic_id),
                partition: *partition,
                leader_epoch: *leader_epoch,
                unclean_epoch: *unclean_epoch,
                broker_id: *broker_id,
                start_offset: *start_offset,
                end_offset: *end_offset,
                timestamp: *timestamp_ms,
            }),
            MetadataRecord::OffsetDelete { group, topic, partition } => {
                Record::OffsetDelete(pb::OffsetDeleteRecord {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                })
            }
            MetadataRecord::ProducerIds { next_producer_id } => {
                Record::ProducerIds(pb::ProducerIdsRecord { next_producer_id: *next_producer_id })
            }
        };
        pb::MetadataRecord { record: Some(record) }
    }
}

impl TryFrom<pb::MetadataRecord> for MetadataRecord {
    type Error = WireError;

    fn try_from(record: pb::MetadataRecord) -> Result<Self, WireError> {
        Ok(match record.record.ok_or(WireError::MissingRecord)? {
            Record::RegisterBroker(r) => MetadataRecord::RegisterBroker {
                broker_id: r.broker_id,
                incarnation_id: uuid("incarnation_id", &r.incarnation_id)?,
                host: r.host,
                port: r.port,
                endpoints: r
                    .endpoints
                    .into_iter()
                    .map(|e| BrokerEndpoint { name: e.name, host: e.host, port: e.port })
                    .collect(),
                rack: r.rack,
                fenced: r.fenced,
            },
            Record::FenceBroker(r) => MetadataRecord::FenceBroker { broker_id: r.broker_id },
            Record::UnfenceBroker(r) => MetadataRecord::UnfenceBroker { broker_id: r.broker_id },
            Record::BrokerControlledShutdown(r) => {
                MetadataRecord::BrokerControlledShutdown { broker_id: r.broker_id }
            }
            Record::Topic(r) => {
                MetadataRecord::Topic { name: r.name, topic_id: uuid("topic_id", &r.topic_id)? }
            }
            Record::Partition(r) => MetadataRecord::Partition {
                topic_id: uuid("topic_id", &r.topic_id)?,
                partition: r.partition_id,
                replicas: r.replicas,
                isr: r.isr,
                leader: r.leader,
                leader_epoch: r.leader_epoch,
                partition_epoch: r.partition_epoch,
            },
            Record::PartitionChange(r) => MetadataRecord::PartitionChange {
                topic_id: uuid("topic_id", &r.topic_id)?,
                partition: r.partition_id,
                leader: r.leader,
                isr: r.isr,
                leader_epoch: r.leader_epoch,
                partition_epoch: r.partition_epoch,
                leader_recovery_state: leader_recovery_state(r.leader_recovery_state)?,
            },
            Record::RemoveTopic(r) => {
                MetadataRecord::RemoveTopic { topic_id: uuid("topic_id", &r.topic_id)? }
            }
            Record::TopicConfig(r) => {
                MetadataRecord::TopicConfig { topic: r.resource_name, name: r.name, value: r.value }
            }
            Record::BrokerConfig(r) => {
                MetadataRecord::BrokerConfig { broker_id: r.broker_id, name: r.name, value: r.value }
            }
            Record::AccessControlEntry(r) => MetadataRecord::AccessControlEntry {
                id: uuid("id", &r.id)?,
                binding: AclBinding {
                    resource_type: code("resource_type", r.resource_type, AclResourceType::from_code)?,
                    resource_name: r.resource_name,
                    pattern_type: code("pattern_type", r.pattern_type, AclPatternType::from_code)?,
                    principal: r.principal,
                    host: r.host,
                    operation: code("operation", r.operation, AclOperation::from_code)?,
                    permission_type: code(
                        "permission_type",
                        r.permission_type,
                        AclPermissionType::from_code,
                    )?,
                },
            },
            Record::RemoveAccessControlEntry(r) => {
                MetadataRecord::RemoveAccessControlEntry { id: uuid("id", &r.id)? }
            }
            Record::OffsetCommit(r) => MetadataRecord::OffsetCommit {
                group: r.group,
                topic: r.topic,
                partition: r.partition,
                offset: r.offset,
                leader_epoch: r.leader_epoch,
                metadata: r.metadata,
                commit_timestamp_ms: r.commit_timestamp,
            },
            Record::ProducerIds(r) => MetadataRecord::ProducerIds { next_producer_id: r.next_producer_id },
            Record::OffsetDelete(r) => {
                MetadataRecord::OffsetDelete { group: r.group, topic: r.topic, partition: r.partition }
            }
            Record::PartitionReassignment(r) => MetadataRecord::PartitionReassignment {
                topic_id: uuid("topic_id", &r.topic_id)?,
                partition: r.partition_id,
                replicas: r.replicas,
                adding_replicas: r.adding_replicas,
                removing_replicas: r.removing_replicas,
                partition_epoch: r.partition_epoch,
            },
            Record::DataLoss(r) => MetadataRecord::DataLoss {
                topic_id: uuid("topic_id", &r.topic_id)?,
                partition: r.partition,
                leader_epoch: r.leader_epoch,
                unclean_epoch: r.unclean_epoch,
                broker_id: r.broker_id,
                start_offset: r.start_offset,
                end_offset: r.end_offset,
                timestamp_ms: r.timestamp,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff])
    }

    /// One of every variant, with non-default values (optional fields both set and unset).
    fn every_variant() -> Vec<MetadataRecord> {
        vec![
            MetadataRecord::RegisterBroker {
                broker_id: 3,
                incarnation_id: id(1),
                host: "broker-3.example".into(),
                port: 19092,
                endpoints: vec![
                    BrokerEndpoint { name: "INTERNAL".into(), host: "broker-3.example".into(), port: 19092 },
                    BrokerEndpoint { name: "EXTERNAL".into(), host: "127.0.0.1".into(), port: 29092 },
                ],
                rack: Some("rack-b".into()),
                fenced: true,
            },
            MetadataRecord::RegisterBroker {
                broker_id: 4,
                incarnation_id: Uuid::nil(),
                host: "h".into(),
                port: 1,
                endpoints: Vec::new(),
                rack: None,
                fenced: false,
            },
            MetadataRecord::FenceBroker { broker_id: 5 },
            MetadataRecord::UnfenceBroker { broker_id: 6 },
            MetadataRecord::BrokerControlledShutdown { broker_id: 7 },
            MetadataRecord::Topic { name: "orders".into(), topic_id: id(2) },
            MetadataRecord::Partition {
                topic_id: id(3),
                partition: 9,
                replicas: vec![3, 1, 2],
                isr: vec![3, 1],
                leader: 3,
                leader_epoch: 12,
                partition_epoch: 40,
            },
            MetadataRecord::PartitionChange {
                topic_id: id(4),
                partition: 2,
                leader: -1,
                isr: vec![2],
                leader_epoch: 13,
                partition_epoch: 41,
                leader_recovery_state: LeaderRecoveryState::Recovering,
            },
            MetadataRecord::RemoveTopic { topic_id: id(5) },
            MetadataRecord::TopicConfig {
                topic: "orders".into(),
                name: "retention.ms".into(),
                value: Some("1000".into()),
            },
            MetadataRecord::TopicConfig {
                topic: "orders".into(),
                name: "cleanup.policy".into(),
                value: None,
            },
            MetadataRecord::BrokerConfig {
                broker_id: Some(2),
                name: "log.retention.ms".into(),
                value: Some("5".into()),
            },
            MetadataRecord::BrokerConfig { broker_id: None, name: "num.io.threads".into(), value: None },
            MetadataRecord::AccessControlEntry {
                id: id(6),
                binding: AclBinding {
                    resource_type: AclResourceType::TransactionalId,
                    resource_name: "tx-".into(),
                    pattern_type: AclPatternType::Prefixed,
                    principal: "User:alice".into(),
                    host: "10.0.0.1".into(),
                    operation: AclOperation::IdempotentWrite,
                    permission_type: AclPermissionType::Deny,
                },
            },
            MetadataRecord::RemoveAccessControlEntry { id: id(7) },
            MetadataRecord::OffsetCommit {
                group: "g1".into(),
                topic: "orders".into(),
                partition: 4,
                offset: 1 << 40,
                leader_epoch: -1,
                metadata: "meta".into(),
                commit_timestamp_ms: 1_700_000_000_123,
            },
            MetadataRecord::ProducerIds { next_producer_id: 5000 },
            MetadataRecord::OffsetDelete { group: "g".into(), topic: Some("orders".into()), partition: 2 },
            MetadataRecord::OffsetDelete { group: "g".into(), topic: None, partition: 0 },
            MetadataRecord::PartitionReassignment {
                topic_id: id(2),
                partition: 0,
                replicas: vec![2, 3, 4, 1],
                adding_replicas: vec![4],
                removing_replicas: vec![1],
                partition_epoch: 9,
            },
            MetadataRecord::DataLoss {
                topic_id: id(2),
                partition: 1,
                leader_epoch: 7,
                unclean_epoch: 6,
                broker_id: 3,
                start_offset: 120,
                end_offset: 140,
                timestamp_ms: 1_700_000_000_000,
            },
        ]
    }

    #[test]
    fn every_variant_round_trips() {
        let records = every_variant();
        for record in &records {
            let proto = pb::MetadataRecord::from(record);
            assert_eq!(MetadataRecord::try_from(proto).unwrap(), *record);
        }
        assert_eq!(decode_batch(&encode_batch(&records)).unwrap(), records);
        assert_eq!(decode_batch(&encode_batch(&[])).unwrap(), vec![]);
    }

    #[test]
    fn garbage_bytes_fail() {
        let err = decode_batch(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
        assert!(matches!(err, WireError::Decode(_)), "{err}");
        // JSON, as the watch stream carried before, is not a batch either.
        let json = serde_json::to_vec(&every_variant()).unwrap();
        assert!(decode_batch(&json).is_err());
        // A truncated batch.
        let bytes = encode_batch(&every_variant());
        assert!(decode_batch(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn unset_oneof_fails() {
        assert!(matches!(
            MetadataRecord::try_from(pb::MetadataRecord { record: None }),
            Err(WireError::MissingRecord)
        ));
        let batch = pb::MetadataRecordBatch { records: vec![pb::MetadataRecord { record: None }] };
        assert!(matches!(decode_batch(&batch.encode_to_vec()), Err(WireError::MissingRecord)));
    }

    #[test]
    fn bad_uuid_fails() {
        let record = pb::MetadataRecord {
            record: Some(Record::Topic(pb::TopicRecord { name: "t".into(), topic_id: vec![1, 2, 3] })),
        };
        assert!(matches!(
            MetadataRecord::try_from(record),
            Err(WireError::BadUuid { field: "topic_id", len: 3 })
        ));
        // Empty bytes (the proto3 default) are not the nil UUID.
        let record = pb::MetadataRecord {
            record: Some(Record::RemoveTopic(pb::RemoveTopicRecord { topic_id: vec![] })),
        };
        assert!(matches!(MetadataRecord::try_from(record), Err(WireError::BadUuid { len: 0, .. })));
    }

    #[test]
    fn unknown_enum_code_fails() {
        let mut entry = pb::MetadataRecord::from(&MetadataRecord::AccessControlEntry {
            id: id(1),
            binding: AclBinding {
                resource_type: AclResourceType::Topic,
                resource_name: "t".into(),
                pattern_type: AclPatternType::Literal,
                principal: "User:bob".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission_type: AclPermissionType::Allow,
            },
        });
        let Some(Record::AccessControlEntry(acl)) = entry.record.as_mut() else { unreachable!() };
        // 258 would alias a defined code if narrowed to i8 carelessly.
        acl.operation = 258;
        assert!(matches!(
            MetadataRecord::try_from(entry),
            Err(WireError::UnknownEnumCode { field: "operation", code: 258 })
        ));

        let change = pb::MetadataRecord {
            record: Some(Record::PartitionChange(pb::PartitionChangeRecord {
                topic_id: id(1).as_bytes().to_vec(),
                leader_recovery_state: 2,
                ..Default::default()
            })),
        };
        assert!(matches!(
            MetadataRecord::try_from(change),
            Err(WireError::UnknownEnumCode { field: "leader_recovery_state", code: 2 })
        ));
    }

    /// The proto enums' values are Kafka's codes: the same set as the Rust enums define.
    #[test]
    fn proto_enum_values_are_kafka_codes() {
        for c in -1..=20i32 {
            let as_i8 = i8::try_from(c).unwrap();
            assert_eq!(pb::AclResourceType::try_from(c).is_ok(), AclResourceType::from_code(as_i8).is_some());
            assert_eq!(pb::AclPatternType::try_from(c).is_ok(), AclPatternType::from_code(as_i8).is_some());
            assert_eq!(pb::AclOperation::try_from(c).is_ok(), AclOperation::from_code(as_i8).is_some());
            assert_eq!(
                pb::AclPermissionType::try_from(c).is_ok(),
                AclPermissionType::from_code(as_i8).is_some()
            );
            assert_eq!(pb::LeaderRecoveryState::try_from(c).is_ok(), leader_recovery_state(c).is_ok());
        }
        assert_eq!(pb::AclOperation::Read as i32, i32::from(AclOperation::Read.code()));
        assert_eq!(pb::AclPermissionType::Allow as i32, i32::from(AclPermissionType::Allow.code()));
        assert_eq!(
            pb::LeaderRecoveryState::Recovering as i32,
            i32::from(LeaderRecoveryState::Recovering.code())
        );
    }
}
