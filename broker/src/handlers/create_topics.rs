//! CreateTopics (key 19), versions 2–7: validates names, partition counts, replication factor against
//! the registered brokers and configs; `validate_only` checks without creating. v5+ results carry the
//! topic's partitions, replication factor and configs; v7+ its id.

use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use strom_controller::request::ControllerRequest;

use super::RequestContext;
use crate::error_code::ErrorCode;
use crate::metadata::ops::{CreateDefaults, NewTopic, OpError};
use crate::state::BrokerState;
use crate::topic_config::TopicConfig;

fn defaults(state: &BrokerState) -> CreateDefaults {
    CreateDefaults {
        num_partitions: state.config.num_partitions,
        replication_factor: state.config.default_replication_factor,
    }
}

/// Creates (or with `validate_only` checks) one topic through the controller; used by CreateTopics and
/// by Metadata auto-creation.
pub async fn create_one(state: &BrokerState, topic: &NewTopic, validate_only: bool) -> Result<(), OpError> {
    let defaults = defaults(state);
    let request = ControllerRequest::CreateTopic {
        name: topic.name.clone(),
        num_partitions: topic.num_partitions,
        replication_factor: topic.replication_factor,
        assignments: topic.assignments.clone(),
        configs: topic.configs.clone(),
        default_partitions: defaults.num_partitions,
        default_replication_factor: defaults.replication_factor,
        validate_only,
    };
    state.execute(request).await.map(|_| ())
}

fn new_topic(
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<NewTopic, OpError> {
    let mut configs = Vec::with_capacity(t.configs.len());
    for c in &t.configs {
        let Some(value) = &c.value else {
            return Err(OpError {
                code: ErrorCode::InvalidConfig,
                message: format!("null value for {}", c.name.as_str()),
            });
        };
        configs.push((c.name.to_string(), value.to_string()));
    }
    Ok(NewTopic {
        name: t.name.0.to_string(),
        num_partitions: t.num_partitions,
        replication_factor: t.replication_factor,
        assignments: t
            .assignments
            .iter()
            .map(|a| (a.partition_index, a.broker_ids.iter().map(|b| b.0).collect()))
            .collect(),
        configs,
    })
}

fn describe_result(
    state: &BrokerState,
    result: CreatableTopicResult,
    topic: &NewTopic,
    version: i16,
) -> CreatableTopicResult {
    if version < 5 {
        return result;
    }
    let image = state.image();
    let (partitions, rf) = match image.topic(&topic.name) {
        Some(t) => {
            (t.partitions.len() as i32, t.partitions.values().next().map_or(-1, |p| p.replicas.len() as i16))
        }
        None => {
            let d = defaults(state);
            let p = if topic.num_partitions == -1 { d.num_partitions } else { topic.num_partitions };
            let rf =
                if topic.replication_factor == -1 { d.replication_factor } else { topic.replication_factor };
            (p, rf)
        }
    };
    let overrides = topic.configs.iter().cloned().collect();
    let configs = TopicConfig::new(overrides, state.topic_defaults())
        .describe()
        .into_iter()
        .map(|e| {
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_string(e.name))
                .with_value(Some(StrBytes::from_string(e.value)))
                .with_config_source(e.source.code())
        })
        .collect();
    let result =
        result.with_num_partitions(partitions).with_replication_factor(rf).with_configs(Some(configs));
    match image.topic(&topic.name) {
        Some(t) if version >= 7 => result.with_topic_id(t.topic_id),
        _ => result,
    }
}

/// Handles a CreateTopics request.
pub async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for (i, t) in request.topics.iter().enumerate() {
        let base = CreatableTopicResult::default().with_name(t.name.clone());
        let duplicate = request.topics.iter().enumerate().any(|(j, other)| j != i && other.name == t.name);
        let outcome = if duplicate {
            Err(OpError { code: ErrorCode::InvalidRequest, message: "topic named more than once".into() })
        } else {
            match new_topic(t) {
                Ok(topic) => create_one(state, &topic, request.validate_only).await.map(|()| topic),
                Err(e) => Err(e),
            }
        };
        results.push(match outcome {
            Ok(topic) => {
                tracing::info!(topic = %topic.name, validate_only = request.validate_only, "created topic");
                describe_result(state, base, &topic, ctx.version)
            }
            Err(e) => base
                .with_error_code(e.code.code())
                .with_error_message(Some(StrBytes::from_string(e.message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        });
    }
    CreateTopicsResponse::default().with_topics(results)
}
