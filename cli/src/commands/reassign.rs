//! `strom partitions reassign`: move partitions to new replica sets while clients keep running, like
//! `kafka-reassign-partitions.sh` (AlterPartitionReassignments / ListPartitionReassignments, sent over
//! [`crate::wire`]). While it waits it prints each moving partition's progress — bytes copied to the
//! new replicas (DescribeLogDirs on the leader and on them), the copy rate and an ETA — and with
//! `--throttle` it bounds the copy with `leader.replication.throttled.rate` (set as the cluster-wide
//! broker default for the move and removed afterwards).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, ApiKey, BrokerId, DescribeLogDirsRequest,
    IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Deserialize;

use crate::output::print_text;
use crate::wire::{self, WireConn, connect_any, error_name};

/// The broker config `--throttle` sets.
const THROTTLE_CONFIG: &str = "leader.replication.throttled.rate";

/// Arguments of `strom partitions reassign`.
#[derive(Debug, Clone, Args)]
pub struct ReassignArgs {
    /// Bootstrap servers, comma-separated (PLAINTEXT listeners).
    #[arg(
        long,
        env = "STROM_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT[,…]"
    )]
    bootstrap_server: String,
    /// Kafka's reassignment JSON: `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topic", "list"])]
    reassignment_json_file: Option<PathBuf>,
    /// Topic of the one partition to move (with --partition and --replicas).
    #[arg(long, value_name = "TOPIC", requires = "partition")]
    topic: Option<String>,
    /// Partition to move.
    #[arg(long, value_name = "N", requires = "topic")]
    partition: Option<i32>,
    /// Target replicas, comma-separated broker ids (the first is the preferred leader).
    #[arg(long, value_name = "ID,ID,…", value_delimiter = ',')]
    replicas: Option<Vec<i32>>,
    /// List the reassignments in progress and exit.
    #[arg(long)]
    list: bool,
    /// Cancel the reassignments of the named partitions (they return to their original replicas).
    #[arg(long)]
    cancel: bool,
    /// Bound the copy to this many bytes per second per leader while the move runs.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    throttle: Option<u64>,
    /// Start the move and exit without waiting for it.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the move to complete.
    #[arg(long, default_value_t = 600_000, value_name = "MS")]
    timeout_ms: u64,
    /// Timeout of each request.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    request_timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
struct PlanFile {
    partitions: Vec<PlanEntry>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlanEntry {
    topic: String,
    partition: i32,
    replicas: Vec<i32>,
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn ids(brokers: &[BrokerId]) -> Vec<i32> {
    brokers.iter().map(|b| b.0).collect()
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The partitions named on the command line or in the JSON file, with their target replicas.
fn plan(args: &ReassignArgs) -> Result<Vec<PlanEntry>> {
    if let Some(path) = &args.reassignment_json_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: PlanFile =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        return Ok(file.partitions);
    }
    match (&args.topic, args.partition, &args.replicas) {
        (Some(topic), Some(partition), Some(replicas)) => {
            Ok(vec![PlanEntry { topic: topic.clone(), partition, replicas: replicas.clone() }])
        }
        (Some(topic), Some(partition), None) if args.cancel => {
            Ok(vec![PlanEntry { topic: topic.clone(), partition, replicas: Vec::new() }])
        }
        _ => bail!(
            "name the partitions to move: --reassignment-json-file, or --topic, --partition and --replicas"
        ),
    }
}

/// Runs `strom partitions reassign`.
pub async fn run(args: ReassignArgs) -> Result<()> {
    let timeout = Duration::from_millis(args.request_timeout_ms.max(1));
    let mut conn = connect_any(&args.bootstrap_server, timeout).await?;
    if args.list {
        let ongoing = list(&mut conn).await?;
        let mut text = String::new();
        for ((topic, partition), (replicas, adding, removing)) in &ongoing {
            text += &format!(
                "{topic}-{partition}: replicas {} adding {} removing {}\n",
                join(replicas),
                join(adding),
                join(removing)
            );
        }
        if text.is_empty() {
            text = "No partition reassignment is in progress.\n".into();
        }
        return print_text(&text);
    }
    let plan = plan(&args)?;
    if let Some(rate) = args.throttle {
        set_throttle(&mut conn, Some(rate)).await?;
        print_text(&format!("Throttle set: {THROTTLE_CONFIG}={rate} bytes/s on every broker.\n"))?;
    }
    let failures = alter(&mut conn, &plan, args.cancel).await?;
    let started: Vec<&PlanEntry> = plan
        .iter()
        .filter(|e| !failures.iter().any(|(t, p, _)| *t == e.topic && *p == e.partition))
        .collect();
    let verb = if args.cancel { "Cancelled" } else { "Started" };
    let mut text = String::new();
    for e in &started {
        text += &format!(
            "{verb} reassignment of {}-{}{}\n",
            e.topic,
            e.partition,
            if args.cancel { String::new() } else { format!(" to replicas {}", join(&e.replicas)) }
        );
    }
    for (topic, partition, error) in &failures {
        text += &format!("Error reassigning {topic}-{partition}: {error}\n");
    }
    print_text(&text)?;
    if !args.no_wait && !args.cancel && !started.is_empty() {
        let result = wait(&mut conn, &started, Duration::from_millis(args.timeout_ms), timeout).await;
        if args.throttle.is_some() {
            set_throttle(&mut conn, None).await?;
            print_text("Throttle removed.\n")?;
        }
        result?;
    }
    if !failures.is_empty() {
        bail!("{} partition(s) could not be reassigned", failures.len());
    }
    Ok(())
}

/// Sends AlterPartitionReassignments; returns the partitions that failed with their error.
async fn alter(conn: &mut WireConn, plan: &[PlanEntry], cancel: bool) -> Result<Vec<(String, i32, String)>> {
    let mut topics: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for e in plan {
        let replicas = (!cancel).then(|| e.replicas.iter().copied().map(BrokerId).collect());
        topics
            .entry(&e.topic)
            .or_default()
            .push(ReassignablePartition::default().with_partition_index(e.partition).with_replicas(replicas));
    }
    let request = AlterPartitionReassignmentsRequest::default().with_timeout_ms(30_000).with_topics(
        topics
            .into_iter()
            .map(|(t, partitions)| {
                ReassignableTopic::default().with_name(topic_name(t)).with_partitions(partitions)
            })
            .collect(),
    );
    conn.version(ApiKey::AlterPartitionReassignments, 0, 0)
        .with_context(|| format!("{} does not support AlterPartitionReassignments", conn.addr()))?;
    let ResponseKind::AlterPartitionReassignments(response) = conn
        .send(ApiKey::AlterPartitionReassignments, 0, &RequestKind::AlterPartitionReassignments(request))
        .await?
    else {
        bail!("unexpected response to AlterPartitionReassignments");
    };
    if response.error_code != 0 {
        bail!("reassignment refused: {}", error_name(response.error_code));
    }
    let mut failures = Vec::new();
    for t in &response.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                let message = p.error_message.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
                failures.push((
                    t.name.0.to_string(),
                    p.partition_index,
                    format!("{}{message}", error_name(p.error_code)),
                ));
            }
        }
    }
    Ok(failures)
}

type Ongoing = BTreeMap<(String, i32), (Vec<i32>, Vec<i32>, Vec<i32>)>;

/// Reassignments in progress: (topic, partition) → (replicas, adding, removing).
async fn list(conn: &mut WireConn) -> Result<Ongoing> {
    let request = ListPartitionReassignmentsRequest::default().with_timeout_ms(30_000).with_topics(None);
    let ResponseKind::ListPartitionReassignments(response) = conn
        .send(ApiKey::ListPartitionReassignments, 0, &RequestKind::ListPartitionReassignments(request))
        .await?
    else {
        bail!("unexpected response to ListPartitionReassignments");
    };
    if response.error_code != 0 {
        bail!("listing reassignments failed: {}", error_name(response.error_code));
    }
    let mut out = Ongoing::new();
    for t in &response.topics {
        for p in &t.partitions {
            out.insert(
                (t.name.0.to_string(), p.partition_index),
                (ids(&p.replicas), ids(&p.adding_replicas), ids(&p.removing_replicas)),
            );
        }
    }
    Ok(out)
}

/// Sets (or, with `None`, removes) the cluster-wide replication throttle.
async fn set_throttle(conn: &mut WireConn, rate: Option<u64>) -> Result<()> {
    let (operation, value) = match rate {
        Some(rate) => (0, Some(StrBytes::from_string(rate.to_string()))),
        None => (1, None),
    };
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(StrBytes::from_static_str(""))
            .with_configs(vec![
                AlterableConfig::default()
                    .with_name(StrBytes::from_static_str(THROTTLE_CONFIG))
                    .with_config_operation(operation)
                    .with_value(value),
            ]),
    ]);
    let version =
        conn.version(ApiKey::IncrementalAlterConfigs, 0, 1).context("IncrementalAlterConfigs unsupported")?;
    let ResponseKind::IncrementalAlterConfigs(response) = conn
        .send(ApiKey::IncrementalAlterConfigs, version, &RequestKind::IncrementalAlterConfigs(request))
        .await?
    else {
        bail!("unexpected response to IncrementalAlterConfigs");
    };
    if let Some(r) = response.responses.iter().find(|r| r.error_code != 0) {
        bail!("setting {THROTTLE_CONFIG}: {}", error_name(r.error_code));
    }
    Ok(())
}

/// Size of `topic`-`partition` on the broker at `addr` (DescribeLogDirs), if it holds it.
async fn partition_size(
    conns: &mut BTreeMap<String, WireConn>,
    addr: &str,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Option<u64> {
    if !conns.contains_key(addr) {
        conns.insert(addr.to_string(), WireConn::connect(addr, timeout).await.ok()?);
    }
    let conn = conns.get_mut(addr)?;
    let version = conn.version(ApiKey::DescribeLogDirs, 1, 4)?;
    let request = DescribeLogDirsRequest::default().with_topics(Some(vec![
        kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![partition]),
    ]));
    let response =
        match conn.send(ApiKey::DescribeLogDirs, version, &RequestKind::DescribeLogDirs(request)).await {
            Ok(ResponseKind::DescribeLogDirs(r)) => r,
            _ => {
                conns.remove(addr);
                return None;
            }
        };
    response
        .results
        .iter()
        .flat_map(|d| d.topics.iter().filter(|t| t.name.0.as_str() == topic))
        .flat_map(|t| t.partitions.iter().filter(|p| p.partition_index == partition))
        .map(|p| u64::try_from(p.partition_size).unwrap_or(0))
        .next()
}

/// Polls until none of `started` is reassigning, printing progress every second.
async fn wait(conn: &mut WireConn, started: &[&PlanEntry], limit: Duration, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut conns: BTreeMap<String, WireConn> = BTreeMap::new();
    let mut last: BTreeMap<(String, i32), (Instant, u64)> = BTreeMap::new();
    loop {
        let ongoing = list(conn).await?;
        let pending: Vec<&&PlanEntry> =
            started.iter().filter(|e| ongoing.contains_key(&(e.topic.clone(), e.partition))).collect();
        if pending.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            bail!("{} reassignment(s) still in progress after {limit:?}", pending.len());
        }
        let meta = wire::metadata(conn, None).await?;
        let addrs: BTreeMap<i32, String> =
            meta.brokers.iter().map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port))).collect();
        let mut text = String::new();
        for e in pending {
            let key = (e.topic.clone(), e.partition);
            let (_, adding, _) = &ongoing[&key];
            let leader = meta
                .topics
                .iter()
                .filter(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == e.topic))
                .flat_map(|t| t.partitions.iter().filter(|p| p.partition_index == e.partition))
                .map(|p| p.leader_id.0)
                .next()
                .unwrap_or(-1);
            let total = match addrs.get(&leader) {
                Some(addr) => {
                    partition_size(&mut conns, addr, &e.topic, e.partition, timeout).await.unwrap_or(0)
                }
                None => 0,
            };
            let mut copied = u64::MAX;
            for r in adding {
                let size = match addrs.get(r) {
                    Some(addr) => {
                        partition_size(&mut conns, addr, &e.topic, e.partition, timeout).await.unwrap_or(0)
                    }
                    None => 0,
                };
                copied = copied.min(size);
            }
            let copied = if copied == u64::MAX { 0 } else { copied };
            let now = Instant::now();
            let rate = last.get(&key).map(|(t, b)| {
                copied.saturating_sub(*b) as f64 / now.duration_since(*t).as_secs_f64().max(0.001)
            });
            last.insert(key, (now, copied));
            let percent = (copied.min(total) * 100).checked_div(total).unwrap_or(0);
            let eta = match rate {
                Some(r) if r > 0.0 => format!("ETA {:.0} s", total.saturating_sub(copied) as f64 / r),
                _ => "ETA unknown".into(),
            };
            let speed = rate.map_or("-".into(), |r| format!("{}/s", mib(r as u64)));
            text += &format!(
                "{}-{}: copying to broker(s) {}: {} of {} ({percent}%), {speed}, {eta}\n",
                e.topic,
                e.partition,
                join(adding),
                mib(copied),
                mib(total)
            );
        }
        print_text(&text)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let meta = wire::metadata(conn, None).await?;
    let mut text = String::new();
    for e in started {
        let replicas = meta
            .topics
            .iter()
            .filter(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == e.topic))
            .flat_map(|t| t.partitions.iter().filter(|p| p.partition_index == e.partition))
            .map(|p| ids(&p.replica_nodes))
            .next()
            .unwrap_or_default();
        text +=
            &format!("Reassignment of {}-{} complete: replicas {}\n", e.topic, e.partition, join(&replicas));
    }
    print_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ReassignArgs,
    }

    fn parse(args: &[&str]) -> Result<ReassignArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("reassign").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn a_plan_comes_from_flags_or_kafkas_json() {
        let args = parse(&["--topic", "t", "--partition", "2", "--replicas", "3,4,5"]).expect("flags");
        let p = plan(&args).expect("plan");
        assert_eq!((p[0].topic.as_str(), p[0].partition, p[0].replicas.clone()), ("t", 2, vec![3, 4, 5]));
        assert!(parse(&["--partition", "2"]).is_err(), "partition without topic");
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("plan.json");
        std::fs::write(&file, r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2]}]}"#)
            .expect("write");
        let args = parse(&["--reassignment-json-file", file.to_str().expect("utf-8")]).expect("file");
        assert_eq!(plan(&args).expect("plan")[0].replicas, vec![1, 2]);
        assert!(plan(&parse(&["--topic", "t", "--partition", "1"]).expect("parse")).is_err(), "no replicas");
    }
}
