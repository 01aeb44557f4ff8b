//! `strom controller`: run one controller (a Raft voter of the metadata quorum) from a config file,
//! with flag and `STROM_*` overrides, until SIGINT or SIGTERM.
//!
//! Once the gRPC listener is bound it prints exactly one line to stdout,
//! `strom controller ready: grpc=<addr> node_id=<id>`, which tests and scripts parse.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use strom_controller::node::parse_voters;
use strom_controller::{ControllerConfig, ControllerNode};

use super::broker::{parse_listener, shutdown_signal};
use super::node_flags::{CONTROLLER_METRICS_LISTEN, NodeFlags};

/// Arguments of `strom controller`.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Controller config file (TOML: node_id, listen, data_dir, [voters], timeouts); defaults when omitted.
    #[arg(long, value_name = "FILE", env = "STROM_CONFIG")]
    pub config: Option<PathBuf>,
    /// This controller's Raft node id; overrides the file.
    #[arg(long, env = "STROM_NODE_ID", value_name = "ID")]
    pub node_id: Option<u64>,
    /// Address the gRPC listener binds; port 0 picks a free port.
    #[arg(long, env = "STROM_CONTROLLER_LISTEN", value_name = "HOST:PORT", value_parser = parse_listener)]
    pub listen: Option<SocketAddr>,
    /// Data directory (the Raft store is `<dir>/raft`).
    #[arg(long, env = "STROM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Initial voters, `1=127.0.0.1:9093,2=…`; the lowest id initializes a fresh cluster.
    #[arg(long, env = "STROM_VOTERS", value_name = "ID=HOST:PORT,…")]
    pub voters: Option<String>,
    /// Leader heartbeat interval in ms (also one AppendEntries RPC's deadline).
    #[arg(long, env = "STROM_HEARTBEAT_INTERVAL_MS", value_name = "MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Election timeout range in ms, `MIN..MAX` (e.g. `300..600`).
    #[arg(long, env = "STROM_ELECTION_TIMEOUT_MS", value_name = "MIN..MAX", value_parser = parse_range)]
    pub election_timeout_ms: Option<(u64, u64)>,
    /// Build a snapshot (and purge the log) after this many entries.
    #[arg(long, env = "STROM_SNAPSHOT_EVERY_LOGS", value_name = "N")]
    pub snapshot_every_logs: Option<u64>,
    /// The cluster id brokers must present (`cluster.id`).
    #[arg(long, env = "STROM_CLUSTER_ID", value_name = "ID")]
    pub cluster_id: Option<String>,
    /// `broker.session.timeout.ms`: a broker without heartbeats this long is fenced.
    #[arg(long, env = "STROM_BROKER_SESSION_TIMEOUT_MS", value_name = "MS")]
    pub broker_session_timeout_ms: Option<u64>,
    /// `auto.leader.rebalance.enable`: move leadership back to preferred replicas (`true`/`false`).
    #[arg(long, env = "STROM_AUTO_LEADER_REBALANCE_ENABLE", value_name = "BOOL")]
    pub auto_leader_rebalance_enable: Option<bool>,
    /// `leader.imbalance.check.interval.seconds`, in ms: time between leader-imbalance checks.
    #[arg(long, env = "STROM_LEADER_IMBALANCE_CHECK_INTERVAL_MS", value_name = "MS")]
    pub leader_imbalance_check_interval_ms: Option<u64>,
    /// `leader.imbalance.per.broker.percentage`: rebalance a broker's partitions when more than this
    /// share of those it prefers is led elsewhere.
    #[arg(long, env = "STROM_LEADER_IMBALANCE_PER_BROKER_PERCENTAGE", value_name = "PERCENT")]
    pub leader_imbalance_per_broker_percentage: Option<u32>,
    /// Metrics endpoint and node-id-from-hostname.
    #[command(flatten)]
    pub node: NodeFlags,
}

impl ControllerArgs {
    /// The effective config: the file (or defaults), then each flag that was given.
    pub fn to_config(&self) -> Result<ControllerConfig> {
        let mut config = match &self.config {
            Some(path) => ControllerConfig::from_file(path).context("loading controller config")?,
            None => ControllerConfig::default(),
        };
        if let Some(node_id) = self.node_id {
            config.node_id = node_id;
        } else if let Some(id) = self.node.hostname_node_id()? {
            config.node_id = id;
        }
        config.metrics_listen = self.node.metrics_listen(config.metrics_listen, CONTROLLER_METRICS_LISTEN)?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(voters) = &self.voters {
            config.voters = parse_voters(voters).context("parsing --voters")?;
        }
        if let Some(ms) = self.heartbeat_interval_ms {
            config.heartbeat_interval_ms = ms;
        }
        if let Some((min, max)) = self.election_timeout_ms {
            config.election_timeout_min_ms = min;
            config.election_timeout_max_ms = max;
        }
        if let Some(every) = self.snapshot_every_logs {
            config.snapshot_every_logs = every;
        }
        if let Some(cluster_id) = &self.cluster_id {
            config.cluster_id = cluster_id.clone();
        }
        if let Some(ms) = self.broker_session_timeout_ms {
            config.broker_session_timeout_ms = ms;
        }
        if let Some(enable) = self.auto_leader_rebalance_enable {
            config.auto_leader_rebalance_enable = enable;
        }
        if let Some(ms) = self.leader_imbalance_check_interval_ms {
            config.leader_imbalance_check_interval_ms = ms;
        }
        if let Some(percentage) = self.leader_imbalance_per_broker_percentage {
            config.leader_imbalance_per_broker_percentage = percentage;
        }
        Ok(config)
    }
}

/// Parses `MIN..MAX`.
fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (min, max) = text.split_once("..").ok_or_else(|| format!("`{text}` is not MIN..MAX"))?;
    let min = min.trim().parse().map_err(|_| format!("`{min}` is not a number"))?;
    let max = max.trim().parse().map_err(|_| format!("`{max}` is not a number"))?;
    Ok((min, max))
}

/// Runs `strom controller`.
pub async fn run(args: ControllerArgs) -> Result<()> {
    let config = args.to_config()?;
    let node_id = config.node_id;
    tracing::info!(node_id, listen = %config.listen, data_dir = %config.data_dir.display(), "starting controller");
    let handle = ControllerNode::start(config).await.context("starting controller")?;
    {
        let mut stdout = std::io::stdout().lock();
        let metrics =
            handle.metrics_addr().map_or_else(|| "off".to_string(), |a| format!("http://{a}/metrics"));
        writeln!(
            stdout,
            "strom controller ready: grpc={} node_id={node_id} metrics={metrics}",
            handle.addr()
        )
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    }
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down controller");
    tokio::select! {
        result = handle.shutdown() => result.context("shutting down controller")?,
        second = shutdown_signal() => anyhow::bail!("shutdown interrupted by {}", second?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() -> Result<()> {
        let args = ControllerArgs {
            config: None,
            node_id: Some(2),
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(PathBuf::from("/tmp/c2")),
            voters: Some("1=127.0.0.1:9093,2=127.0.0.1:9094".into()),
            heartbeat_interval_ms: None,
            election_timeout_ms: Some((200, 400)),
            snapshot_every_logs: Some(100),
            cluster_id: Some("c-7".into()),
            broker_session_timeout_ms: Some(3000),
            auto_leader_rebalance_enable: Some(false),
            leader_imbalance_check_interval_ms: Some(1000),
            leader_imbalance_per_broker_percentage: None,
            node: NodeFlags::default(),
        };
        let config = args.to_config()?;
        assert_eq!(config.node_id, 2);
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.voters.len(), 2);
        assert_eq!(config.snapshot_every_logs, 100);
        assert_eq!((config.election_timeout_min_ms, config.election_timeout_max_ms), (200, 400));
        assert!(parse_range("1-2").is_err());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/c2"));
        assert_eq!((config.cluster_id.as_str(), config.broker_session_timeout_ms), ("c-7", 3000));
        assert!(!config.auto_leader_rebalance_enable);
        assert_eq!(config.leader_imbalance_check_interval_ms, 1000);
        assert_eq!(config.leader_imbalance_per_broker_percentage, 10, "default kept");
        Ok(())
    }
}
