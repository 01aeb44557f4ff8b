//! `strom topics`: create, list, describe, alter (add partitions) and delete topics, like
//! `kafka-topics.sh`, through librdkafka's admin client.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::{ArgGroup, Args};
use rdkafka::admin::{
    AdminClient, ConfigSource, NewPartitions, NewTopic, OwnedResourceSpecifier, ResourceSpecifier,
    TopicReplication, TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use serde::Serialize;
use serde_json::json;
use strom_controller::metadata::image::DATA_LOSS_LEDGER_CONFIG;

use crate::client::{ConnectArgs, TopicInfo, describe_code, fetch_topics, kafka_error, parse_key_value};
use crate::output::{OutputArgs, print_json, print_text};

/// Arguments of `strom topics`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["create", "list", "describe", "alter", "delete"])))]
pub struct TopicsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Create a topic (needs --topic).
    #[arg(long)]
    create: bool,
    /// List topic names.
    #[arg(long)]
    list: bool,
    /// Describe partitions, leaders, replicas, ISR and non-default configs (all topics without --topic).
    #[arg(long)]
    describe: bool,
    /// Increase a topic's partition count to --partitions (CreatePartitions).
    #[arg(long)]
    alter: bool,
    /// Delete a topic (needs --topic).
    #[arg(long)]
    delete: bool,
    /// Topic name.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// Partition count: for --create (default: the broker's `num.partitions`) and --alter.
    #[arg(long, value_name = "N")]
    partitions: Option<i32>,
    /// Replication factor for --create (default: the broker's `default.replication.factor`).
    #[arg(long, value_name = "N")]
    replication_factor: Option<i32>,
    /// A topic config for --create, e.g. `--config retention.ms=60000` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    config: Vec<(String, String)>,
    /// With --create: succeed if the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
    /// With --delete or --alter: succeed if the topic does not exist.
    #[arg(long)]
    if_exists: bool,
    /// With --describe: only partitions whose ISR is smaller than their replica list.
    #[arg(long)]
    under_replicated_partitions: bool,
    /// With --describe: only partitions without a live leader.
    #[arg(long)]
    unavailable_partitions: bool,
}

/// Keeps the partitions `--under-replicated-partitions` / `--unavailable-partitions` ask for (all when
/// neither is set), and drops topics left without partitions by a filter. `live` are the brokers in
/// the cluster metadata.
fn filter_partitions(topics: &mut Vec<TopicInfo>, under_replicated: bool, unavailable: bool, live: &[i32]) {
    if !under_replicated && !unavailable {
        return;
    }
    for topic in topics.iter_mut() {
        topic.partitions.retain(|p| {
            let is_under = p.isr.len() < p.replicas.len();
            let is_unavailable = p.leader < 0 || !live.contains(&p.leader);
            (under_replicated && is_under) || (unavailable && is_unavailable)
        });
    }
    topics.retain(|t| !t.partitions.is_empty());
}

/// Runs `strom topics`.
pub async fn run(args: TopicsArgs) -> Result<()> {
    let output = &args.output;
    let admin = args.connect.admin_client()?;
    if args.list {
        return list(&args, &admin, output);
    }
    if args.describe {
        return describe(&args, &admin, output).await;
    }
    let Some(topic) = args.topic.as_deref() else {
        bail!("--topic is required with --create, --alter and --delete")
    };
    if args.create {
        create(&args, &admin, topic, output).await
    } else if args.alter {
        alter(&args, &admin, topic, output).await
    } else {
        delete(&args, &admin, topic, output).await
    }
}

fn list(args: &TopicsArgs, admin: &AdminClient<DefaultClientContext>, output: &OutputArgs) -> Result<()> {
    let names: Vec<String> =
        fetch_topics(admin.inner(), args.connect.request_timeout())?.into_iter().map(|t| t.name).collect();
    if output.is_json() {
        return print_json(&json!({ "topics": names }));
    }
    print_text(&names.iter().map(|name| format!("{name}\n")).collect::<String>())
}

/// Checks the single result of an admin call on one topic; `tolerated` codes count as "nothing done".
fn single_result(results: Vec<TopicResult>, tolerated: Option<RDKafkaErrorCode>) -> Result<bool> {
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(true),
        Some(Err((_, code))) if Some(code) == tolerated => Ok(false),
        Some(Err((topic, code))) => bail!("{} (topic '{topic}')", describe_code(code)),
        None => bail!("the broker returned no result"),
    }
}

async fn create(
    args: &TopicsArgs,
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    output: &OutputArgs,
) -> Result<()> {
    let partitions = args.partitions.unwrap_or(-1);
    let replication = TopicReplication::Fixed(args.replication_factor.unwrap_or(-1));
    let mut new_topic = NewTopic::new(topic, partitions, replication);
    for (key, value) in &args.config {
        new_topic = new_topic.set(key, value);
    }
    let results =
        admin.create_topics([&new_topic], &args.connect.admin_options()).await.map_err(kafka_error)?;
    let tolerated = args.if_not_exists.then_some(RDKafkaErrorCode::TopicAlreadyExists);
    let created = single_result(results, tolerated)?;
    if output.is_json() {
        print_json(&json!({ "topic": topic, "created": created }))
    } else {
        if created {
            return print_text(&format!("Created topic {topic}.\n"));
        }
        Ok(())
    }
}

async fn alter(
    args: &TopicsArgs,
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    output: &OutputArgs,
) -> Result<()> {
    let Some(count) = args.partitions else { bail!("--alter needs --partitions N") };
    let Ok(count) = usize::try_from(count) else { bail!("--partitions must be positive, got {count}") };
    let request = NewPartitions::new(topic, count);
    let results =
        admin.create_partitions([&request], &args.connect.admin_options()).await.map_err(kafka_error)?;
    let tolerated = args.if_exists.then_some(RDKafkaErrorCode::UnknownTopicOrPartition);
    let altered = single_result(results, tolerated)?;
    if output.is_json() {
        print_json(&json!({ "topic": topic, "partitions": count, "altered": altered }))
    } else {
        if altered {
            return print_text(&format!("Topic {topic} now has {count} partitions.\n"));
        }
        Ok(())
    }
}

async fn delete(
    args: &TopicsArgs,
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    output: &OutputArgs,
) -> Result<()> {
    let results = admin.delete_topics(&[topic], &args.connect.admin_options()).await.map_err(kafka_error)?;
    let tolerated = args.if_exists.then_some(RDKafkaErrorCode::UnknownTopicOrPartition);
    let deleted = single_result(results, tolerated)?;
    if output.is_json() {
        print_json(&json!({ "topic": topic, "deleted": deleted }))
    } else {
        if deleted {
            return print_text(&format!("Deleted topic {topic}.\n"));
        }
        Ok(())
    }
}

/// A described topic: metadata plus its non-default configs.
#[derive(Debug, Serialize)]
struct TopicDescription {
    #[serde(flatten)]
    info: TopicInfo,
    partition_count: usize,
    replication_factor: usize,
    /// `None` when DescribeConfigs failed for this topic.
    configs: Option<BTreeMap<String, String>>,
}

async fn describe(
    args: &TopicsArgs,
    admin: &AdminClient<DefaultClientContext>,
    output: &OutputArgs,
) -> Result<()> {
    let mut topics = fetch_topics(admin.inner(), args.connect.request_timeout())?;
    if let Some(wanted) = &args.topic {
        topics.retain(|t| &t.name == wanted);
        if topics.is_empty() {
            bail!("UNKNOWN_TOPIC_OR_PARTITION: topic '{wanted}' does not exist");
        }
    }
    let live = crate::client::live_brokers(admin.inner(), args.connect.request_timeout())?;
    filter_partitions(&mut topics, args.under_replicated_partitions, args.unavailable_partitions, &live);
    let configs = describe_non_default_configs(args, admin, &topics).await;
    let described: Vec<TopicDescription> = topics
        .into_iter()
        .zip(configs)
        .map(|(info, configs)| TopicDescription {
            partition_count: info.partitions.len(),
            replication_factor: info.partitions.first().map_or(0, |p| p.replicas.len()),
            info,
            configs,
        })
        .collect();
    if output.is_json() {
        return print_json(&json!({ "topics": described }));
    }
    let mut text = String::new();
    for topic in &described {
        let ledger = topic.configs.as_ref().and_then(|map| map.get(DATA_LOSS_LEDGER_CONFIG));
        let configs = match &topic.configs {
            Some(map) => map
                .iter()
                .filter(|(k, _)| k.as_str() != DATA_LOSS_LEDGER_CONFIG)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            None => "<unavailable>".to_string(),
        };
        let error = topic.info.error.as_ref().map(|e| format!("\tError: {e}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}{error}",
            topic.info.name, topic.partition_count, topic.replication_factor
        );
        for entry in ledger.iter().flat_map(|l| l.split("; ")) {
            let _ = writeln!(text, "\tDataLoss: {entry}");
        }
        for p in &topic.info.partitions {
            let error = p.error.as_ref().map(|e| format!("\tError: {e}")).unwrap_or_default();
            let leader = if p.leader < 0 { "none".to_string() } else { p.leader.to_string() };
            let _ = writeln!(
                text,
                "\tTopic: {}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}{error}",
                topic.info.name,
                p.partition,
                join_ids(&p.replicas),
                join_ids(&p.isr)
            );
        }
    }
    print_text(&text)
}

/// Non-default configs of each topic, in order; a topic whose configs cannot be described gets `None`
/// and a warning on stderr (the partition listing is still useful).
async fn describe_non_default_configs(
    args: &TopicsArgs,
    admin: &AdminClient<DefaultClientContext>,
    topics: &[TopicInfo],
) -> Vec<Option<BTreeMap<String, String>>> {
    if topics.is_empty() {
        return Vec::new();
    }
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t.name.as_str())).collect();
    let results = match admin.describe_configs(&specifiers, &args.connect.admin_options()).await {
        Ok(results) => results,
        Err(err) => {
            eprintln!("WARN: DescribeConfigs failed: {:#}", kafka_error(err));
            return vec![None; topics.len()];
        }
    };
    let mut by_name: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for result in results {
        match result {
            Ok(resource) => {
                let OwnedResourceSpecifier::Topic(name) = resource.specifier else { continue };
                let configs = resource
                    .entries
                    .into_iter()
                    .filter(|e| !e.is_default && e.source != ConfigSource::Default)
                    .map(|e| (e.name, e.value.unwrap_or_else(|| "<sensitive>".into())))
                    .collect();
                by_name.insert(name, configs);
            }
            Err(code) => eprintln!("WARN: DescribeConfigs failed for a topic: {}", describe_code(code)),
        }
    }
    topics.iter().map(|t| by_name.remove(&t.name)).collect()
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::PartitionInfo;

    fn partition(partition: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionInfo {
        PartitionInfo { partition, leader, replicas: replicas.to_vec(), isr: isr.to_vec(), error: None }
    }

    #[test]
    fn describe_filters_select_partitions_like_kafka_topics() {
        let topics = vec![
            TopicInfo {
                name: "a".into(),
                partitions: vec![
                    partition(0, 1, &[1, 2, 3], &[1, 2, 3]),
                    partition(1, 1, &[1, 2, 3], &[1, 3]),
                    partition(2, -1, &[2], &[2]),
                    partition(3, 2, &[2, 3], &[2, 3]),
                ],
                error: None,
            },
            TopicInfo { name: "b".into(), partitions: vec![partition(0, 1, &[1], &[1])], error: None },
        ];
        let ids = |t: &[TopicInfo]| -> Vec<(String, i32)> {
            t.iter().flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.partition))).collect()
        };
        let mut all = topics.clone();
        filter_partitions(&mut all, false, false, &[1, 3]);
        assert_eq!(ids(&all).len(), 5);
        let mut under = topics.clone();
        filter_partitions(&mut under, true, false, &[1, 3]);
        assert_eq!(ids(&under), vec![("a".to_string(), 1)]);
        let mut unavailable = topics.clone();
        filter_partitions(&mut unavailable, false, true, &[1, 3]);
        assert_eq!(ids(&unavailable), vec![("a".to_string(), 2), ("a".to_string(), 3)]);
    }
}
