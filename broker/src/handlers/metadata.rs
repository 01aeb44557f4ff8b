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

/// The brokers as reached through `listener`: like KRaft, brokers that can serve (registered and
/// unfenced) and that have that listener — and always the answering broker `this` itself, fenced or
/// not. librdkafka (2.10 and later) forgets every broker a Metadata response leaves out, its bootstrap
/// servers included: an empty list, while a controller failover has every broker fenced for a moment,
/// left producers with no broker to ask ever again.
fn brokers(image: &MetadataImage, listener: &str, this: i32) -> Vec<MetadataResponseBroker> {
    image
        .brokers()
        .filter(|b| !b.fenced || b.broker_id == this)
        .filter_map(|b| {
            let (host, port) = b.endpoint(listener)?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.broker_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port)
                    .with_rack(b.rack.clone().map(StrBytes::from_string)),
            )
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
        .with_brokers(brokers(&image, &ctx.listener_name, state.config.node_id))
        .with_cluster_id(Some(StrBytes::from_string(state.cluster_id.clone())))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{BrokerEndpoint, MetadataRecord};

    fn register(image: &mut MetadataImage, broker_id: i32, endpoints: &[(&str, &str, i32)], fenced: bool) {
        image.replay(&MetadataRecord::RegisterBroker {
            broker_id,
            incarnation_id: Uuid::from_u128(broker_id as u128),
            host: "legacy".into(),
            port: 9000 + broker_id,
            endpoints: endpoints
                .iter()
                .map(|(name, host, port)| BrokerEndpoint {
                    name: (*name).into(),
                    host: (*host).into(),
                    port: *port,
                })
                .collect(),
            rack: None,
            fenced,
        });
    }

    #[test]
    fn brokers_are_listed_with_the_endpoints_of_the_request_listener() {
        let mut image = MetadataImage::default();
        register(&mut image, 1, &[("INTERNAL", "broker-1", 9092), ("EXTERNAL", "127.0.0.1", 19092)], false);
        register(&mut image, 2, &[("INTERNAL", "broker-2", 9092)], false);
        register(&mut image, 3, &[], false);
        register(&mut image, 4, &[("EXTERNAL", "127.0.0.1", 19094)], true);
        let listed = |listener: &str| -> Vec<(i32, String, i32)> {
            brokers(&image, listener, 1).iter().map(|b| (b.node_id.0, b.host.to_string(), b.port)).collect()
        };
        // Broker 2 has no EXTERNAL listener and is left out; broker 3 predates named listeners and
        // answers every name; fenced broker 4 is never listed.
        assert_eq!(
            listed("EXTERNAL"),
            [(1, "127.0.0.1".to_string(), 19092), (3, "legacy".to_string(), 9003)]
        );
        assert_eq!(
            listed("INTERNAL"),
            [
                (1, "broker-1".to_string(), 9092),
                (2, "broker-2".to_string(), 9092),
                (3, "legacy".to_string(), 9003)
            ]
        );
    }

    #[test]
    fn the_answering_broker_is_listed_even_while_fenced() {
        let mut image = MetadataImage::default();
        register(&mut image, 1, &[("PLAINTEXT", "h", 9001)], true);
        register(&mut image, 2, &[("PLAINTEXT", "h", 9002)], true);
        let listed: Vec<i32> = brokers(&image, "PLAINTEXT", 1).iter().map(|b| b.node_id.0).collect();
        assert_eq!(listed, [1], "never an empty list: broker 2 is fenced, broker 1 answers");
    }
}
