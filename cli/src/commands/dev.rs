//! `strom dev`: a whole local cluster in one process — by default 3 controllers (a Raft quorum) and
//! 3 brokers, Kafka on 127.0.0.1:9092–9094 — or, with `--controllers 0 --brokers 1`, one broker that
//! keeps its own metadata. Prints every node's address and how to use it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use strom_broker::{Broker, BrokerConfig, BrokerHandle};
use strom_controller::{ControllerConfig, ControllerHandle, ControllerNode};

use crate::commands::broker::shutdown_signal;

/// Arguments of `strom dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Directory for every node's data (`controller-N/`, `broker-N/` inside it).
    #[arg(long, default_value = "./strom-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Number of controllers (Raft voters); 0 runs a single broker with its own metadata.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub controllers: u16,
    /// Number of brokers.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub brokers: u16,
    /// Host the nodes bind and advertise.
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub host: String,
    /// Kafka port of broker 1; broker N listens on this + N - 1.
    #[arg(long, default_value_t = 9092, value_name = "PORT")]
    pub kafka_port: u16,
    /// gRPC port of controller 1; controller N listens on this + N - 1.
    #[arg(long, default_value_t = 19093, value_name = "PORT")]
    pub controller_port: u16,
    /// Metrics/health HTTP port of broker 1; broker N serves on this + N - 1 (0: free ports).
    #[arg(long, default_value_t = 9464, value_name = "PORT")]
    pub metrics_port: u16,
    /// Metrics/health HTTP port of controller 1; controller N serves on this + N - 1 (0: free ports).
    #[arg(long, default_value_t = 9474, value_name = "PORT")]
    pub controller_metrics_port: u16,
}

/// Port `base + index` (index from 0), or 0 (a free port) when `base` is 0.
fn nth_port(base: u16, index: u16) -> u16 {
    if base == 0 { 0 } else { base.saturating_add(index) }
}

fn addr(host: &str, port: u16) -> Result<SocketAddr> {
    format!("{host}:{port}").parse().with_context(|| format!("bad address {host}:{port}"))
}

/// Starts the controllers (the lowest id initializes the quorum on first start).
async fn start_controllers(args: &DevArgs) -> Result<Vec<ControllerHandle>> {
    let voters: BTreeMap<u64, String> = (1..=u64::from(args.controllers))
        .map(|id| (id, format!("{}:{}", args.host, u64::from(args.controller_port) + id - 1)))
        .collect();
    let mut handles = Vec::new();
    for (id, voter) in &voters {
        let config = ControllerConfig {
            node_id: *id,
            listen: voter.parse().with_context(|| format!("bad controller address {voter}"))?,
            metrics_listen: Some(addr(&args.host, nth_port(args.controller_metrics_port, *id as u16 - 1))?),
            data_dir: args.data_dir.join(format!("controller-{id}")),
            voters: voters.clone(),
            cluster_id: "strom-dev".into(),
            ..ControllerConfig::default()
        };
        handles
            .push(ControllerNode::start(config).await.with_context(|| format!("starting controller {id}"))?);
    }
    Ok(handles)
}

/// Starts the brokers; in cluster mode each registers with the controllers before it serves.
async fn start_brokers(args: &DevArgs, controllers: &[String]) -> Result<Vec<BrokerHandle>> {
    let mut handles = Vec::new();
    for id in 1..=args.brokers {
        let data_dir = if controllers.is_empty() {
            args.data_dir.clone()
        } else {
            args.data_dir.join(format!("broker-{id}"))
        };
        let config = BrokerConfig {
            node_id: i32::from(id),
            listener: addr(&args.host, args.kafka_port + id - 1)?,
            metrics_listen: Some(addr(&args.host, nth_port(args.metrics_port, id - 1))?),
            data_dir,
            controllers: controllers.to_vec(),
            ..BrokerConfig::default()
        };
        handles.push(Broker::start(config).await.with_context(|| format!("starting broker {id}"))?);
    }
    Ok(handles)
}

/// Runs `strom dev` until Ctrl-C, then stops brokers (controlled shutdown) and controllers.
pub async fn run(args: DevArgs) -> Result<()> {
    if args.brokers == 0 || (args.controllers == 0 && args.brokers != 1) {
        bail!("--brokers must be at least 1, and exactly 1 without controllers");
    }
    let controllers = start_controllers(&args).await?;
    let controller_addrs: Vec<String> = controllers.iter().map(|c| c.addr().to_string()).collect();
    let brokers = start_brokers(&args, &controller_addrs).await?;
    let kafka: Vec<SocketAddr> = brokers.iter().map(BrokerHandle::kafka_addr).collect();
    for (i, broker) in brokers.iter().enumerate() {
        println!(
            "strom broker ready: kafka={} node_id={} metrics={}",
            broker.kafka_addr(),
            i + 1,
            metrics_url(broker.metrics_addr())
        );
    }
    let mut nodes = Vec::new();
    for (i, controller) in controllers.iter().enumerate() {
        let metrics = metrics_url(controller.metrics_addr());
        nodes.push(format!("controller {}  grpc  {:<21}  {metrics}", i + 1, controller.addr()));
    }
    for (i, broker) in brokers.iter().enumerate() {
        let metrics = metrics_url(broker.metrics_addr());
        nodes.push(format!("broker {}      kafka {:<21}  {metrics}", i + 1, broker.kafka_addr().to_string()));
    }
    print!("{}", banner(&kafka, &controller_addrs, &nodes, &args.data_dir));
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "stopping the dev cluster");
    for broker in brokers {
        broker.shutdown().await.context("stopping a broker")?;
    }
    for controller in controllers {
        controller.shutdown().await.context("stopping a controller")?;
    }
    Ok(())
}

/// `http://ADDR/metrics`, or `off`.
fn metrics_url(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_string(), |a| format!("http://{a}/metrics"))
}

/// What the cluster is and commands to try.
fn banner(kafka: &[SocketAddr], controllers: &[String], nodes: &[String], data_dir: &Path) -> String {
    let bootstrap = kafka.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    let b = format!("--bootstrap-server {bootstrap}");
    let mut text = String::new();
    let _ = writeln!(
        text,
        "\n  Strom dev cluster is running ({} controllers, {} brokers).\n",
        controllers.len(),
        kafka.len()
    );
    let _ = writeln!(text, "  Bootstrap servers: {bootstrap}");
    if !controllers.is_empty() {
        let _ = writeln!(text, "  Controllers:       {}", controllers.join(","));
    }
    let _ = writeln!(text, "  Nodes (metrics: Prometheus text; /health/live and /health/ready beside it):");
    for node in nodes {
        let _ = writeln!(text, "    {node}");
    }
    let _ = write!(
        text,
        "  Data directory:    {}\n\n\
         \x20 Try:\n\
         \x20   strom topics {b} --create --topic demo --partitions 3\n\
         \x20   strom topics {b} --describe --topic demo\n\
         \x20   printf 'k1:hello\\nk2:world\\n' | strom produce {b} --topic demo \\\n\
         \x20       --property parse.key=true --property key.separator=:\n\
         \x20   strom consume {b} --topic demo --from-beginning --max-messages 2 --property print.key=true\n",
        data_dir.display()
    );
    if let Some(controller) = controllers.first() {
        let _ = writeln!(text, "    strom cluster describe-quorum --controller {controller}");
    }
    let _ = writeln!(
        text,
        "\n  Any Kafka client works too: bootstrap.servers={bootstrap}\n  Press Ctrl-C to stop."
    );
    text
}
