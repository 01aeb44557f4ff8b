//! Metadata (key 3), versions 0–12: brokers, cluster id, topics with partitions, leaders, replicas, ISR
//! and (v10+) topic ids. Unknown topics are created when the request and `auto.create.topics.enable`
//! allow it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::RequestContext;
use super::create_topics::create_one;
use crate::error_code::ErrorCode;
use crate::metadata::ops::{self, NewTopic};
use crate::metadata::{MetadataImage, TopicImage};
use crate::state::BrokerState;

fn ids(ids: &[i32]) -> Vec<BrokerId> {
    ids.iter().map(|id| BrokerId(*id)).collect()
}

/// Describes one topic from the image; replicas on fenced or unregistered brokers are listed as
/// offline (v5+).
fn describe_topic(image: &MetadataImage, topic: &TopicImage) -> MetadataResponseTopic {
    let offline = |replicas: &[i32]| -> Vec<BrokerId> {
        replicas.iter().filter(|r| image.broker(**r).is_none_or(|b| b.fenced)).map(|r| BrokerId(*r)).collect()
    };
    let partitions = topic
        .partitions
        .iter()
        .map(|(index, p)| {
            MetadataResponsePartition::default()
                .with_partition_index(*index)
                .with_error_code(if p.leader < 0 { ErrorCode::LeaderNotAvailable.code() } else { 0 })
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(ids(&p.replicas))
                .with_isr_nodes(ids(&p.isr))
                .with_offline_replicas(offline(&p.replicas))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_partitions(partitions)
}

fn topic_error(name: Option<&str>, topic_id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n.to_string()))))
        .with_topic_id(topic_id)
        .with_error_code(code.code())
}

fn brokers(image: &MetadataImage) -> Vec<MetadataResponseBroker> {
    image
        .brokers()
        // Like KRaft, only brokers that can serve (registered and unfenced) are listed.
        .filter(|b| !b.fenced)
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.broker_id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(b.port)
                .with_rack(b.rack.clone().map(StrBytes::from_string))
        })
        .collect()
}

/// Looks up (or auto-creates) one named topic.
async fn named_topic(state: &BrokerState, name: &str, allow_auto_create: bool) -> MetadataResponseTopic {
    let image = state.image();
    if let Some(topic) = image.topic(name) {
        return describe_topic(&image, topic);
    }
    if let Err(e) = ops::validate_topic_name(name) {
        return topic_error(Some(name), Uuid::nil(), e.code);
    }
    if !(allow_auto_create && state.config.auto_create_topics_enable) {
        return topic_error(Some(name), Uuid::nil(), ErrorCode::UnknownTopicOrPartition);
    }
    let new_topic = NewTopic {
        name: name.to_string(),
        num_partitions: -1,
        replication_factor: -1,
        assignments: vec![],
        configs: vec![],
    };
    match create_one(state, &new_topic, false).await {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::TopicAlreadyExists => {}
        Err(e) => {
            tracing::warn!(topic = name, error = %e.message, "auto-creating topic failed");
            return topic_error(Some(name), Uuid::nil(), e.code);
        }
    }
    tracing::info!(topic = name, "auto-created topic");
    let image = state.image();
    match image.topic(name) {
        Some(topic) => describe_topic(&image, topic),
        None => topic_error(Some(name), Uuid::nil(), ErrorCode::UnknownTopicOrPartition),
    }
}

/// Handles a Metadata request.
pub async fn handle(state: &BrokerState, ctx: &RequestContext, request: MetadataRequest) -> MetadataResponse {
    let allow_auto_create = ctx.version < 4 || request.allow_auto_topic_creation;
    let all_topics = match &request.topics {
        None => true,
        Some(topics) => ctx.version == 0 && topics.is_empty(),
    };
    let topics = if all_topics {
        let image = state.image();
        image.topics().map(|topic| describe_topic(&image, topic)).collect()
    } else {
        let mut topics = Vec::new();
        for t in request.topics.unwrap_or_default() {
            topics.push(match t.name {
                Some(name) => named_topic(state, name.0.as_str(), allow_auto_create).await,
                None => match state.image().topic_by_id(t.topic_id) {
                    Some(topic) => describe_topic(&state.image(), topic),
                    None => topic_error(None, t.topic_id, ErrorCode::UnknownTopicId),
                },
            });
        }
        topics
    };
    let image = state.image();
    MetadataResponse::default()
        .with_brokers(brokers(&image))
        .with_cluster_id(Some(StrBytes::from_string(state.cluster_id.clone())))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_topics(topics)
}
