//! DescribeConfigs (key 32, v1–4), AlterConfigs (key 33, v0–2) and IncrementalAlterConfigs (key 44,
//! v0–1). Topics: every supported config with its effective value, source and type. Brokers: the
//! static configuration, read-only.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::error_code::ErrorCode;
use strom_controller::request::ControllerRequest;

use crate::metadata::image::{DATA_LOSS_LEDGER_CONFIG, format_data_loss_ledger};
use crate::metadata::ops::OpError;
use crate::state::BrokerState;
use crate::topic_config::{ConfigEntry, ConfigSource, TopicConfig};

/// Kafka resource type codes.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// Kafka's GROUP config resource (DescribeConfigs): Strom answers it with the group's rebalance
/// history, read-only.
const GROUP: i8 = 32;

/// Read-only GROUP entry: one line per generation change.
pub const REBALANCE_HISTORY_CONFIG: &str = "strom.rebalance.history";
/// Read-only GROUP entry: rebalances counted by cause.
pub const REBALANCE_CAUSES_CONFIG: &str = "strom.rebalance.causes";

fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// The broker's configuration: static values, with dynamic overrides (this broker's, else the
/// cluster-wide default) where the image has them.
fn broker_entries(state: &BrokerState) -> Vec<ConfigEntry> {
    let image = state.image();
    let node_id = state.config.node_id;
    let mut entries = static_broker_entries(state);
    for entry in &mut entries {
        if let Some(value) = image.broker_configs(node_id).and_then(|c| c.get(&entry.name)) {
            (entry.value, entry.source) = (value.clone(), ConfigSource::DynamicBroker);
        } else if let Some(value) = image.cluster_broker_configs().get(&entry.name) {
            (entry.value, entry.source) = (value.clone(), ConfigSource::DynamicDefaultBroker);
        }
    }
    entries
}

fn static_broker_entries(state: &BrokerState) -> Vec<ConfigEntry> {
    let c = &state.config;
    let d = &c.topic_defaults;
    let entry = |name: &str, value: String, config_type: i8| ConfigEntry {
        name: name.into(),
        value,
        source: ConfigSource::Broker,
        config_type,
        documentation: "Static broker configuration.",
    };
    vec![
        entry("node.id", c.node_id.to_string(), 3),
        entry("broker.id", c.node_id.to_string(), 3),
        entry("log.dirs", c.data_dir.display().to_string(), 2),
        entry("num.partitions", c.num_partitions.to_string(), 3),
        entry("default.replication.factor", c.default_replication_factor.to_string(), 3),
        entry("auto.create.topics.enable", c.auto_create_topics_enable.to_string(), 1),
        entry("socket.request.max.bytes", c.socket_request_max_bytes.to_string(), 3),
        entry("log.retention.ms", d.retention_ms.to_string(), 5),
        entry("log.retention.bytes", d.retention_bytes.to_string(), 5),
        entry("log.segment.bytes", d.segment_bytes.to_string(), 3),
        entry("log.roll.ms", d.segment_ms.to_string(), 5),
        entry("message.max.bytes", d.max_message_bytes.to_string(), 3),
        entry("min.insync.replicas", d.min_insync_replicas.to_string(), 3),
        entry("log.message.timestamp.type", d.message_timestamp_type.clone(), 2),
        entry("compression.type", d.compression_type.clone(), 2),
        entry("unclean.leader.election.enable", d.unclean_leader_election_enable.to_string(), 1),
        entry("log.flush.interval.messages", d.flush_messages.to_string(), 5),
        entry("log.flush.interval.ms", d.flush_ms.to_string(), 5),
        entry("log.cleanup.policy", d.cleanup_policy.clone(), 7),
    ]
}

fn describe_resource(
    state: &BrokerState,
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    synonyms: bool,
    documentation: bool,
) -> Result<Vec<DescribeConfigsResourceResult>, (ErrorCode, String)> {
    let (entries, read_only) = match resource_type {
        TOPIC => match state.image().topic(name) {
            Some(topic) => {
                let mut entries = TopicConfig::new(topic.configs.clone(), state.topic_defaults()).describe();
                if !topic.data_loss.is_empty() {
                    entries.push(ConfigEntry {
                        name: DATA_LOSS_LEDGER_CONFIG.into(),
                        value: format_data_loss_ledger(&topic.data_loss),
                        source: ConfigSource::Topic,
                        config_type: 2,
                        documentation: "Records discarded because of unclean leader elections (read-only).",
                    });
                }
                (entries, false)
            }
            None => {
                return Err((ErrorCode::UnknownTopicOrPartition, format!("topic '{name}' does not exist")));
            }
        },
        BROKER if name.is_empty() || name == state.config.node_id.to_string() => {
            (broker_entries(state), true)
        }
        BROKER => return Err((ErrorCode::InvalidRequest, format!("broker '{name}' is not this broker"))),
        GROUP => {
            let (lines, counts) =
                state.groups.history(state, name).map_err(|code| (code, format!("group '{name}'")))?;
            let entry = |name: &str, value: String, documentation: &'static str| ConfigEntry {
                name: name.into(),
                value,
                source: ConfigSource::Default,
                config_type: 2,
                documentation,
            };
            let entries = vec![
                entry(
                    REBALANCE_HISTORY_CONFIG,
                    lines.join("\n"),
                    "The group's generation changes with their causes.",
                ),
                entry(REBALANCE_CAUSES_CONFIG, counts, "Rebalances of the group counted by cause."),
            ];
            (entries, true)
        }
        other => return Err((ErrorCode::InvalidRequest, format!("unsupported resource type {other}"))),
    };
    Ok(entries
        .into_iter()
        .map(|e| {
            let source =
                if ctx.version == 0 && e.source == ConfigSource::Default { 5 } else { e.source.code() };
            let mut result = DescribeConfigsResourceResult::default()
                .with_name(s(e.name.clone()))
                .with_value(Some(s(e.value.clone())))
                .with_read_only(read_only || e.name == DATA_LOSS_LEDGER_CONFIG)
                .with_config_source(source);
            if synonyms {
                result = result.with_synonyms(vec![
                    DescribeConfigsSynonym::default()
                        .with_name(s(e.name.clone()))
                        .with_value(Some(s(e.value)))
                        .with_source(source),
                ]);
            }
            if ctx.version >= 3 {
                result = result.with_config_type(e.config_type);
                if documentation {
                    result = result.with_documentation(Some(s(e.documentation)));
                }
            }
            result
        })
        .collect())
}

/// Handles DescribeConfigs.
pub fn describe(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let described = describe_resource(
                state,
                ctx,
                r.resource_type,
                r.resource_name.as_str(),
                request.include_synonyms,
                request.include_documentation,
            );
            match described {
                Ok(mut configs) => {
                    if let Some(keys) = &r.configuration_keys {
                        configs.retain(|c| keys.iter().any(|k| k == &c.name));
                    }
                    base.with_configs(configs)
                }
                Err((code, message)) => {
                    base.with_error_code(code.code()).with_error_message(Some(s(message)))
                }
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// Validates (and unless `validate_only`, commits) changes to one resource.
async fn apply(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
    changes: Vec<(String, Option<String>)>,
    replace_all: bool,
    validate_only: bool,
) -> Result<(), OpError> {
    let request = match resource_type {
        TOPIC => ControllerRequest::AlterTopicConfigs {
            name: name.to_string(),
            changes: changes.clone(),
            replace_all,
            validate_only,
        },
        BROKER => {
            // Kafka's empty resource name is the cluster-wide default for every broker.
            let broker_id = if name.is_empty() {
                None
            } else {
                Some(name.parse::<i32>().map_err(|_| OpError {
                    code: ErrorCode::InvalidRequest,
                    message: format!("'{name}' is not a broker id"),
                })?)
            };
            ControllerRequest::AlterBrokerConfigs {
                broker_id,
                changes: changes.clone(),
                replace_all,
                validate_only,
            }
        }
        other => {
            return Err(OpError {
                code: ErrorCode::InvalidRequest,
                message: format!("unsupported resource type {other}"),
            });
        }
    };
    state.execute(request).await?;
    tracing::info!(resource_type, name, ?changes, validate_only, "configs changed");
    Ok(())
}

fn error_parts(result: Result<(), OpError>) -> (i16, Option<StrBytes>) {
    match result {
        Ok(()) => (0, None),
        Err(e) => (e.code.code(), Some(s(e.message))),
    }
}

/// Handles AlterConfigs (replaces the whole set of overrides).
pub async fn alter(state: &BrokerState, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        let changes =
            r.configs.into_iter().map(|c| (c.name.to_string(), c.value.map(|v| v.to_string()))).collect();
        let result =
            apply(state, r.resource_type, r.resource_name.as_str(), changes, true, request.validate_only)
                .await;
        let (code, message) = error_parts(result);
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// Turns incremental operations (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT) into set/delete changes.
fn incremental_changes(
    state: &BrokerState,
    topic: &str,
    configs: Vec<kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig>,
) -> Result<Vec<(String, Option<String>)>, OpError> {
    let current =
        state.image().topic(topic).map(|t| TopicConfig::new(t.configs.clone(), state.topic_defaults()));
    configs
        .into_iter()
        .map(|c| {
            let name = c.name.to_string();
            let value = c.value.map(|v| v.to_string());
            match (c.config_operation, value) {
                (0, Some(v)) => Ok((name, Some(v))),
                (1, _) => Ok((name, None)),
                (2 | 3, Some(v)) if name == "cleanup.policy" => {
                    let existing = current.as_ref().map(|t| t.get(&name).0).unwrap_or_default();
                    let mut items: Vec<String> =
                        existing.split(',').filter(|x| !x.is_empty()).map(String::from).collect();
                    if c.config_operation == 2 {
                        if !items.contains(&v) {
                            items.push(v);
                        }
                    } else {
                        items.retain(|x| x != &v);
                    }
                    Ok((name, Some(items.join(","))))
                }
                (2 | 3, _) => Err(OpError {
                    code: ErrorCode::InvalidConfig,
                    message: format!("{name} is not a list config"),
                }),
                (op, _) => Err(OpError {
                    code: ErrorCode::InvalidRequest,
                    message: format!("invalid operation {op} for {name}"),
                }),
            }
        })
        .collect()
}

/// Handles IncrementalAlterConfigs.
pub async fn incremental_alter(
    state: &BrokerState,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        let name = r.resource_name.to_string();
        let result = match incremental_changes(state, &name, r.configs) {
            Ok(changes) => apply(state, r.resource_type, &name, changes, false, request.validate_only).await,
            Err(e) => Err(e),
        };
        let (code, message) = error_parts(result);
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name)
                .with_error_code(code)
                .with_error_message(message),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
