//! Topics: CreateTopics, DeleteTopics, CreatePartitions and topic config changes.

use uuid::Uuid;

use super::OpError;
use super::election::{UNCLEAN_LEADER_ELECTION, elect_offline_uncleanly};
use super::placement::place_replicas;
use crate::error_code::ErrorCode;
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;
use crate::topic_config;

/// Largest legal topic name length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Kafka's topic-name rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), OpError> {
    let invalid =
        |why: &str| OpError::new(ErrorCode::InvalidTopicException, format!("topic name '{name}' {why}"));
    if name.is_empty() {
        return Err(invalid("is empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("cannot be '.' or '..'"));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(invalid("is longer than 249 characters"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return Err(invalid("contains characters other than ASCII alphanumerics, '.', '_' and '-'"));
    }
    Ok(())
}

/// A CreateTopics entry after defaults are resolved by the caller's request decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Partition count, or -1 for the broker default.
    pub num_partitions: i32,
    /// Replication factor, or -1 for the broker default.
    pub replication_factor: i16,
    /// Manual assignment: partition index → replica ids (empty for automatic placement).
    pub assignments: Vec<(i32, Vec<i32>)>,
    /// Config overrides.
    pub configs: Vec<(String, String)>,
}

/// Broker-wide defaults used when a request says -1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateDefaults {
    /// `num.partitions`.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub replication_factor: i16,
}

/// The record creating one partition: the ISR is the active replicas (in replica order), the first of
/// them leads. Fails when no replica is active.
fn partition_record(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    replicas: Vec<i32>,
) -> Result<MetadataRecord, OpError> {
    let isr: Vec<i32> = replicas.iter().copied().filter(|r| image.is_active(*r)).collect();
    let Some(&leader) = isr.first() else {
        return Err(OpError::new(
            ErrorCode::InvalidReplicaAssignment,
            format!("all brokers assigned to partition {partition} are fenced or shutting down"),
        ));
    };
    Ok(MetadataRecord::Partition {
        topic_id,
        partition,
        leader,
        isr,
        replicas,
        leader_epoch: 0,
        partition_epoch: 0,
    })
}

fn check_assignment(image: &MetadataImage, replicas: &[i32]) -> Result<(), OpError> {
    let mut seen = replicas.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if replicas.is_empty() || seen.len() != replicas.len() {
        return Err(OpError::new(
            ErrorCode::InvalidReplicaAssignment,
            "replica list is empty or has duplicates",
        ));
    }
    if let Some(unknown) = replicas.iter().find(|r| image.broker(**r).is_none()) {
        return Err(OpError::new(
            ErrorCode::InvalidReplicaAssignment,
            format!("broker {unknown} is not registered"),
        ));
    }
    Ok(())
}

/// Validates configs and returns them canonicalised.
fn validate_configs(configs: &[(String, String)]) -> Result<Vec<(String, String)>, OpError> {
    configs
        .iter()
        .map(|(name, value)| {
            topic_config::validate(name, value)
                .map(|value| (name.clone(), value))
                .map_err(|e| OpError::new(ErrorCode::InvalidConfig, e.to_string()))
        })
        .collect()
}

/// CreateTopics for one topic. `topic_id` is supplied by the caller so the function stays pure.
pub fn create_topic(
    image: &MetadataImage,
    topic: &NewTopic,
    defaults: CreateDefaults,
    topic_id: Uuid,
) -> Result<Vec<MetadataRecord>, OpError> {
    validate_topic_name(&topic.name)?;
    if image.topic(&topic.name).is_some() {
        return Err(OpError::new(
            ErrorCode::TopicAlreadyExists,
            format!("topic '{}' already exists", topic.name),
        ));
    }
    let configs = validate_configs(&topic.configs)?;
    let mut assignments = topic.assignments.clone();
    if assignments.is_empty() {
        let partitions =
            if topic.num_partitions == -1 { defaults.num_partitions } else { topic.num_partitions };
        if partitions <= 0 {
            return Err(OpError::new(
                ErrorCode::InvalidPartitions,
                "number of partitions must be larger than 0",
            ));
        }
        let rf = if topic.replication_factor == -1 {
            defaults.replication_factor
        } else {
            topic.replication_factor
        };
        if rf <= 0 {
            return Err(OpError::new(
                ErrorCode::InvalidReplicationFactor,
                format!("replication factor {rf} must be larger than 0"),
            ));
        }
        let placements = place_replicas(image, partitions as usize, rf as usize, 0)?;
        assignments = (0..partitions).zip(placements).collect();
    } else {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                "numPartitions and replicationFactor must be -1 with a manual assignment",
            ));
        }
        assignments.sort_by_key(|(p, _)| *p);
        for (expected, (partition, replicas)) in assignments.iter().enumerate() {
            if *partition != expected as i32 {
                return Err(OpError::new(ErrorCode::InvalidReplicaAssignment, "partitions must be 0..n"));
            }
            check_assignment(image, replicas)?;
        }
    }
    let mut records = vec![MetadataRecord::Topic { name: topic.name.clone(), topic_id }];
    records.extend(configs.into_iter().map(|(name, value)| MetadataRecord::TopicConfig {
        topic: topic.name.clone(),
        name,
        value: Some(value),
    }));
    for (partition, replicas) in assignments {
        records.push(partition_record(image, topic_id, partition, replicas)?);
    }
    Ok(records)
}

/// DeleteTopics for one topic (by name, or by id when `name` is `None`).
pub fn delete_topic(
    image: &MetadataImage,
    name: Option<&str>,
    topic_id: Uuid,
) -> Result<Vec<MetadataRecord>, OpError> {
    let topic = match name {
        Some(name) => image.topic(name),
        None => image.topic_by_id(topic_id),
    };
    match topic {
        Some(topic) => Ok(vec![MetadataRecord::RemoveTopic { topic_id: topic.topic_id }]),
        None if name.is_none() => Err(OpError::new(ErrorCode::UnknownTopicId, "unknown topic id")),
        None => Err(OpError::new(ErrorCode::UnknownTopicOrPartition, "this server does not host this topic")),
    }
}

/// CreatePartitions for one topic: grow to `count` partitions.
pub fn create_partitions(
    image: &MetadataImage,
    name: &str,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
) -> Result<Vec<MetadataRecord>, OpError> {
    let topic = image.topic(name).ok_or_else(|| {
        OpError::new(ErrorCode::UnknownTopicOrPartition, format!("topic '{name}' does not exist"))
    })?;
    let current = topic.partitions.len() as i32;
    if count <= current {
        return Err(OpError::new(
            ErrorCode::InvalidPartitions,
            format!("topic currently has {current} partitions, {count} would not be an increase"),
        ));
    }
    let rf = topic.partitions.values().next().map_or(1, |p| p.replicas.len());
    if assignments.is_some_and(|a| a.len() as i32 != count - current) {
        return Err(OpError::new(
            ErrorCode::InvalidReplicaAssignment,
            "one assignment per new partition required",
        ));
    }
    let new_partitions = (count - current) as usize;
    let placements = match assignments {
        Some(assignments) => {
            for replicas in assignments {
                check_assignment(image, replicas)?;
            }
            assignments.to_vec()
        }
        None => place_replicas(image, new_partitions, rf, current as usize)?,
    };
    let mut records = Vec::new();
    for (partition, replicas) in (current..count).zip(placements) {
        records.push(partition_record(image, topic.topic_id, partition, replicas)?);
    }
    Ok(records)
}

/// Config changes for one topic: `Some(value)` sets, `None` deletes. With `replace_all` (the legacy
/// AlterConfigs), every override not named is removed. Enabling `unclean.leader.election.enable` also
/// elects leaders for the topic's offline partitions that have a live replica.
pub fn alter_topic_configs(
    image: &MetadataImage,
    name: &str,
    changes: &[(String, Option<String>)],
    replace_all: bool,
) -> Result<Vec<MetadataRecord>, OpError> {
    let topic = image.topic(name).ok_or_else(|| {
        OpError::new(ErrorCode::UnknownTopicOrPartition, format!("topic '{name}' does not exist"))
    })?;
    let mut records = Vec::new();
    for (config, value) in changes {
        let value = match value {
            Some(value) => Some(
                topic_config::validate(config, value)
                    .map_err(|e| OpError::new(ErrorCode::InvalidConfig, e.to_string()))?,
            ),
            None => {
                if !topic_config::config_names().any(|n| n == config) {
                    return Err(OpError::new(
                        ErrorCode::InvalidConfig,
                        format!("unknown topic config '{config}'"),
                    ));
                }
                None
            }
        };
        records.push(MetadataRecord::TopicConfig { topic: name.into(), name: config.clone(), value });
    }
    if replace_all {
        for existing in topic.configs.keys() {
            if !changes.iter().any(|(n, _)| n == existing) {
                records.push(MetadataRecord::TopicConfig {
                    topic: name.into(),
                    name: existing.clone(),
                    value: None,
                });
            }
        }
    }
    if enables(changes, UNCLEAN_LEADER_ELECTION) {
        records.extend(elect_offline_uncleanly(image, topic));
    }
    Ok(records)
}

/// Whether `changes` set boolean config `name` to true.
pub(crate) fn enables(changes: &[(String, Option<String>)], name: &str) -> bool {
    changes.iter().any(|(n, v)| n == name && v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_with_broker() -> MetadataImage {
        let mut image = MetadataImage::default();
        image.replay(&MetadataRecord::RegisterBroker {
            broker_id: 1,
            incarnation_id: Uuid::nil(),
            host: "h".into(),
            port: 9092,
            endpoints: Vec::new(),
            rack: None,
            fenced: false,
        });
        image
    }

    fn new_topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments: vec![],
            configs: vec![],
        }
    }

    const DEFAULTS: CreateDefaults = CreateDefaults { num_partitions: 2, replication_factor: 1 };

    #[test]
    fn topic_names_follow_kafka_rules() {
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(250)] {
            assert_eq!(validate_topic_name(bad).unwrap_err().code, ErrorCode::InvalidTopicException, "{bad}");
        }
        for good in ["a", "a.b_c-d", &"x".repeat(249)] {
            assert!(validate_topic_name(good).is_ok());
        }
    }

    #[test]
    fn create_topic_places_partitions_and_rejects_bad_requests() {
        let mut image = image_with_broker();
        let records = create_topic(&image, &new_topic("t", -1, -1), DEFAULTS, Uuid::nil()).expect("create");
        for record in &records {
            image.replay(record);
        }
        assert_eq!(image.topic("t").expect("t").partitions.len(), 2);
        let err = create_topic(&image, &new_topic("t", 1, 1), DEFAULTS, Uuid::nil()).unwrap_err();
        assert_eq!(err.code, ErrorCode::TopicAlreadyExists);
        let err = create_topic(&image, &new_topic("u", 1, 3), DEFAULTS, Uuid::nil()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidReplicationFactor);
        let err = create_topic(&image, &new_topic("u", 0, 1), DEFAULTS, Uuid::nil()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidPartitions);
        let mut bad_config = new_topic("u", 1, 1);
        bad_config.configs.push(("retention.ms".into(), "soon".into()));
        assert_eq!(
            create_topic(&image, &bad_config, DEFAULTS, Uuid::nil()).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
    }

    #[test]
    fn create_partitions_only_grows() {
        let mut image = image_with_broker();
        for record in create_topic(&image, &new_topic("t", 1, 1), DEFAULTS, Uuid::new_v4()).expect("create") {
            image.replay(&record);
        }
        assert_eq!(create_partitions(&image, "t", 1, None).unwrap_err().code, ErrorCode::InvalidPartitions);
        let records = create_partitions(&image, "t", 3, None).expect("grow");
        assert_eq!(records.len(), 2);
        assert_eq!(
            create_partitions(&image, "nope", 3, None).unwrap_err().code,
            ErrorCode::UnknownTopicOrPartition
        );
    }

    #[test]
    fn enabling_unclean_election_elects_offline_partitions() {
        let mut image = image_with_broker();
        image.replay(&MetadataRecord::RegisterBroker {
            broker_id: 2,
            incarnation_id: Uuid::nil(),
            host: "h".into(),
            port: 9093,
            endpoints: Vec::new(),
            rack: None,
            fenced: false,
        });
        let topic_id = Uuid::from_u128(3);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        });
        for record in crate::metadata::ops::fence_broker(&image, 1).expect("fence") {
            image.replay(&record);
        }
        assert_eq!(image.partition(topic_id, 0).map(|p| p.leader), Some(-1));
        let change = [("unclean.leader.election.enable".to_owned(), Some("true".to_owned()))];
        for record in alter_topic_configs(&image, "t", &change, false).expect("alter") {
            image.replay(&record);
        }
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2]));
    }
}
