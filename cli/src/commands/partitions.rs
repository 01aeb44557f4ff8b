//! `strom partitions elect-leaders`: preferred or unclean leader elections, like
//! `kafka-leader-election.sh`. librdkafka's admin API has no election call, so this sends ElectLeaders
//! (API 43) itself over the Kafka protocol ([`crate::wire`], PLAINTEXT listeners): Metadata names the
//! controller (and a topic's partitions), and ElectLeaders goes to it.
//!
//! Prints one line per outcome kind, as Kafka's tool does, and exits non-zero when any partition
//! failed (a partition that needs no election is not a failure).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    ApiKey, ElectLeadersRequest, ElectLeadersResponse, MetadataResponse, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use crate::output::{OutputArgs, print_json, print_text};
use crate::wire::{self, WireConn, connect_any, error_name};

/// Kafka's ELECTION_NOT_NEEDED.
const ELECTION_NOT_NEEDED: i16 = 84;

/// Arguments of `strom partitions`.
#[derive(Debug, Clone, Args)]
pub struct PartitionsArgs {
    #[command(subcommand)]
    command: PartitionsCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum PartitionsCommand {
    /// Move leadership to preferred replicas, or elect leaders for leaderless partitions (like
    /// kafka-leader-election.sh).
    ElectLeaders(ElectLeadersArgs),
    /// Move partitions to new replica sets while clients keep running, with progress, an ETA and an
    /// optional throttle (like kafka-reassign-partitions.sh).
    Reassign(super::reassign::ReassignArgs),
}

/// Kafka's election types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ElectionKind {
    Preferred,
    Unclean,
}

impl ElectionKind {
    fn code(self) -> i8 {
        match self {
            Self::Preferred => 0,
            Self::Unclean => 1,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Preferred => "PREFERRED",
            Self::Unclean => "UNCLEAN",
        }
    }
}

/// Arguments of `strom partitions elect-leaders`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["topic", "all_topic_partitions"])))]
struct ElectLeadersArgs {
    /// Bootstrap servers, comma-separated (PLAINTEXT listeners).
    #[arg(
        long,
        env = "STROM_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT[,HOST:PORT]"
    )]
    bootstrap_server: String,
    /// `preferred`: the first replica leads again if it is in the ISR; `unclean`: elect a leader for
    /// leaderless partitions, from outside the ISR if need be (may lose committed records).
    #[arg(long, value_enum)]
    election_type: ElectionKind,
    /// Topic whose partitions to elect (all of them without --partition).
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// Only this partition of --topic.
    #[arg(long, value_name = "N", requires = "topic")]
    partition: Option<i32>,
    /// Every partition of every topic (only those that needed an election are reported).
    #[arg(long)]
    all_topic_partitions: bool,
    /// Timeout of each request, and of the election on the controller.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    request_timeout_ms: u64,
    #[command(flatten)]
    output: OutputArgs,
}

/// Outcome of an election request, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct ElectionReport {
    election_type: &'static str,
    succeeded: Vec<String>,
    not_needed: Vec<String>,
    failed: Vec<FailedElection>,
}

/// One partition whose election failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct FailedElection {
    partition: String,
    error: String,
    message: Option<String>,
}

impl ElectionReport {
    /// Sorts a response into succeeded / not needed / failed partitions (`topic-partition`).
    fn from_response(kind: ElectionKind, response: &ElectLeadersResponse) -> Self {
        let mut report = Self { election_type: kind.label(), ..Self::default() };
        for topic in &response.replica_election_results {
            for p in &topic.partition_result {
                let name = format!("{}-{}", topic.topic.0, p.partition_id);
                match p.error_code {
                    0 => report.succeeded.push(name),
                    ELECTION_NOT_NEEDED => report.not_needed.push(name),
                    code => report.failed.push(FailedElection {
                        partition: name,
                        error: error_name(code),
                        message: p.error_message.as_ref().map(|m| m.to_string()),
                    }),
                }
            }
        }
        report
    }

    /// Kafka's tool output: one line for successes, one for partitions needing no election, one per
    /// failure.
    fn to_text(&self) -> String {
        let mut text = String::new();
        let label = self.election_type;
        if !self.succeeded.is_empty() {
            let partitions = self.succeeded.join(", ");
            text +=
                &format!("Successfully completed leader election ({label}) for partitions {partitions}\n");
        }
        if !self.not_needed.is_empty() {
            text += &format!("Election not needed for partitions {}\n", self.not_needed.join(", "));
        }
        for f in &self.failed {
            let detail = f.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            text += &format!(
                "Error completing leader election ({label}) for partition {}: {}{detail}\n",
                f.partition, f.error
            );
        }
        if text.is_empty() {
            text = format!("No partition needed a leader election ({label})\n");
        }
        text
    }
}

/// Runs `strom partitions`.
pub async fn run(args: PartitionsArgs) -> Result<()> {
    match args.command {
        PartitionsCommand::ElectLeaders(args) => elect_leaders(args).await,
        PartitionsCommand::Reassign(args) => super::reassign::run(args).await,
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A connection to the controller that `metadata` names, or `conn` itself when it is the controller
/// (or the controller is unknown).
async fn controller_conn(conn: WireConn, metadata: &MetadataResponse, timeout: Duration) -> Result<WireConn> {
    let controller = metadata.brokers.iter().find(|b| b.node_id == metadata.controller_id);
    match controller.map(|b| format!("{}:{}", b.host, b.port)) {
        Some(addr) if addr != conn.addr() => WireConn::connect(&addr, timeout).await,
        _ => Ok(conn),
    }
}

/// The partitions to ask for: `None` for every partition.
fn requested_partitions(
    args: &ElectLeadersArgs,
    metadata: &MetadataResponse,
) -> Result<Option<Vec<TopicPartitions>>> {
    let Some(topic) = &args.topic else { return Ok(None) };
    let partitions = match args.partition {
        Some(p) => vec![p],
        None => {
            let entry = metadata
                .topics
                .iter()
                .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
                .with_context(|| format!("topic '{topic}' is not in the cluster metadata"))?;
            if entry.error_code != 0 {
                bail!("{}: topic '{topic}'", error_name(entry.error_code));
            }
            let mut partitions: Vec<i32> = entry.partitions.iter().map(|p| p.partition_index).collect();
            partitions.sort_unstable();
            partitions
        }
    };
    Ok(Some(vec![TopicPartitions::default().with_topic(topic_name(topic)).with_partitions(partitions)]))
}

async fn elect_leaders(args: ElectLeadersArgs) -> Result<()> {
    let timeout = Duration::from_millis(args.request_timeout_ms.max(1));
    let mut conn = connect_any(&args.bootstrap_server, timeout).await?;
    let topics: Vec<String> = args.topic.iter().cloned().collect();
    let metadata = wire::metadata(&mut conn, Some(&topics)).await?;
    let topic_partitions = requested_partitions(&args, &metadata)?;
    let mut conn = controller_conn(conn, &metadata, timeout).await?;
    let min_version = if args.election_type == ElectionKind::Unclean { 1 } else { 0 };
    let version = conn.version(ApiKey::ElectLeaders, min_version, 2).with_context(|| {
        format!("{} does not support {} ElectLeaders", conn.addr(), args.election_type.label())
    })?;
    let mut request = ElectLeadersRequest::default()
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(i32::try_from(args.request_timeout_ms).unwrap_or(i32::MAX));
    if version >= 1 {
        request = request.with_election_type(args.election_type.code());
    }
    let ResponseKind::ElectLeaders(response) =
        conn.send(ApiKey::ElectLeaders, version, &RequestKind::ElectLeaders(request)).await?
    else {
        bail!("unexpected response to ElectLeaders");
    };
    let report = ElectionReport::from_response(args.election_type, &response);
    if response.error_code != 0 && report.failed.is_empty() {
        bail!("leader election ({}) failed: {}", report.election_type, error_name(response.error_code));
    }
    if args.output.is_json() {
        print_json(&report)?;
    } else {
        print_text(&report.to_text())?;
    }
    if !report.failed.is_empty() {
        bail!("{} partition(s) could not be elected", report.failed.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: PartitionsCommand,
    }

    fn parse(args: &[&str]) -> Result<ElectLeadersArgs, clap::Error> {
        let argv = ["strom", "elect-leaders"].iter().chain(args).copied();
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            PartitionsCommand::ElectLeaders(args) => args,
            PartitionsCommand::Reassign(_) => unreachable!("parsed elect-leaders"),
        })
    }

    #[test]
    fn flags_need_exactly_one_target() {
        let args = parse(&["--election-type", "preferred", "--topic", "orders", "--partition", "1"])
            .expect("topic and partition");
        assert_eq!((args.topic.as_deref(), args.partition), (Some("orders"), Some(1)));
        assert!(parse(&["--election-type", "unclean", "--all-topic-partitions"]).is_ok());
        assert!(parse(&["--election-type", "preferred"]).is_err(), "no target");
        assert!(parse(&["--election-type", "preferred", "--partition", "1"]).is_err(), "partition alone");
        assert!(
            parse(&["--election-type", "preferred", "--topic", "t", "--all-topic-partitions"]).is_err(),
            "both targets"
        );
        assert!(parse(&["--election-type", "other", "--topic", "t"]).is_err());
    }

    #[test]
    fn report_lines_follow_kafkas_tool() {
        let partition = |id: i32, code: i16, message: Option<&str>| {
            PartitionResult::default()
                .with_partition_id(id)
                .with_error_code(code)
                .with_error_message(message.map(|m| StrBytes::from_string(m.to_string())))
        };
        let response = ElectLeadersResponse::default().with_replica_election_results(vec![
            ReplicaElectionResult::default().with_topic(topic_name("orders")).with_partition_result(vec![
                partition(0, 0, None),
                partition(1, 80, Some("not in the ISR")),
                partition(2, ELECTION_NOT_NEEDED, None),
                partition(3, 0, None),
            ]),
        ]);
        let report = ElectionReport::from_response(ElectionKind::Preferred, &response);
        assert_eq!(
            report.to_text(),
            "Successfully completed leader election (PREFERRED) for partitions orders-0, orders-3\n\
             Election not needed for partitions orders-2\n\
             Error completing leader election (PREFERRED) for partition orders-1: \
             PREFERRED_LEADER_NOT_AVAILABLE: not in the ISR\n"
        );
        let empty = ElectionReport::from_response(ElectionKind::Unclean, &ElectLeadersResponse::default());
        assert_eq!(empty.to_text(), "No partition needed a leader election (UNCLEAN)\n");
    }
}
