//! `strom`: run a Strom broker (`broker`, `dev`) and work with any Kafka-compatible cluster (`topics`,
//! `partitions`, `groups`, `produce`, `consume`, `configs`, `bench`).
//!
//! The cluster tools use librdkafka (or, for ElectLeaders and consumer groups, plain Kafka protocol
//! requests), never Strom internals, so they behave the same against Apache Kafka. Logs go to stderr (`RUST_LOG`, default `info` for brokers and `warn` for tools); results go to
//! stdout, as text or, with `--output json`, as one JSON document.

// Huge allocations asked for by lengths on the wire only reserve address space (see strom_broker::alloc).
#[global_allocator]
static GLOBAL: strom_broker::alloc::ReservingAllocator = strom_broker::alloc::ReservingAllocator;

mod client;
mod commands;
mod output;
mod wire;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Strom: a Kafka-wire-compatible broker, and tools that work with any Kafka cluster.
#[derive(Debug, Parser)]
#[command(name = "strom", version, propagate_version = true, max_term_width = 110)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one broker node until SIGINT/SIGTERM.
    Broker(commands::broker::BrokerArgs),
    /// Run one controller (a Raft voter of the metadata quorum) until SIGINT/SIGTERM.
    Controller(commands::controller::ControllerArgs),
    /// Run a controller and a broker in one process (small deployments) until SIGINT/SIGTERM.
    Combined(commands::combined::CombinedArgs),
    /// Describe the controllers and brokers; add and remove controllers.
    Cluster(commands::cluster::ClusterArgs),
    /// Run a local cluster (3 controllers, 3 brokers by default) and print how to use it.
    Dev(commands::dev::DevArgs),
    /// Create, list, describe, alter and delete topics (like kafka-topics.sh).
    Topics(commands::topics::TopicsArgs),
    /// Partition tools: leader elections (like kafka-leader-election.sh).
    Partitions(commands::partitions::PartitionsArgs),
    /// List, describe (offsets, lag, members, state), delete consumer groups and reset their offsets
    /// (like kafka-consumer-groups.sh).
    Groups(commands::groups::GroupsArgs),
    /// Send lines from stdin as records (like kafka-console-producer.sh).
    Produce(commands::produce::ProduceArgs),
    /// Print records of a topic (like kafka-console-consumer.sh).
    Consume(commands::consume::ConsumeArgs),
    /// Describe and alter topic configs (like kafka-configs.sh).
    Configs(commands::configs::ConfigsArgs),
    /// Measure produce and consume throughput and latency.
    Bench(commands::bench::BenchArgs),
    /// GET a node's health endpoint (`/health/ready`); exit 0 on HTTP 200, 1 otherwise (for probes in
    /// images without curl).
    Health(commands::health::HealthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Broker(_) | Command::Controller(_) | Command::Combined(_) | Command::Dev(_) => {
            "info,openraft=warn"
        }
        _ => "warn",
    };
    init_tracing(default_level);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// `outer: inner: root`, skipping a cause whose text the previous message already ends with (some
/// error types repeat their source in their own message).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// Logs to stderr, filtered by `RUST_LOG` (or `default_level`).
fn init_tracing(default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

fn run(cli: Cli) -> Result<()> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting Tokio")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Broker(args) => commands::broker::run(args).await,
            Command::Controller(args) => commands::controller::run(args).await,
            Command::Combined(args) => commands::combined::run(args).await,
            Command::Cluster(args) => commands::cluster::run(args).await,
            Command::Dev(args) => commands::dev::run(args).await,
            Command::Topics(args) => commands::topics::run(args).await,
            Command::Partitions(args) => commands::partitions::run(args).await,
            Command::Groups(args) => commands::groups::run(args).await,
            Command::Produce(args) => commands::produce::run(args).await,
            Command::Consume(args) => commands::consume::run(args).await,
            Command::Configs(args) => commands::configs::run(args).await,
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Health(args) => commands::health::run(args).await,
        }
    })
}
