//! `strom combined --config FILE`: a controller and a broker in one process, for small deployments (as
//! Kafka's `process.roles=broker,controller`). The file has a `[controller]` table (ControllerConfig) and
//! a `[broker]` table (BrokerConfig); the broker's `controllers` default to the quorum's voters.
//!
//! Prints both ready lines (`strom controller ready: …`, then `strom broker ready: …`), runs until
//! SIGINT/SIGTERM, then stops the broker (controlled shutdown) before the controller.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use strom_broker::{Broker, BrokerConfig};
use strom_controller::{ControllerConfig, ControllerNode};

use super::broker::shutdown_signal;

/// Arguments of `strom combined`.
#[derive(Debug, Clone, Args)]
pub struct CombinedArgs {
    /// TOML file with `[controller]` and `[broker]` tables.
    #[arg(long, value_name = "FILE", env = "STROM_CONFIG")]
    pub config: PathBuf,
}

/// The combined node's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CombinedConfig {
    /// The controller (Raft voter) of this node.
    pub controller: ControllerConfig,
    /// The broker of this node.
    pub broker: BrokerConfig,
}

impl CombinedConfig {
    /// Reads the file; the broker follows the quorum's voters unless it names controllers itself.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text)
    }

    fn from_toml(text: &str) -> Result<Self> {
        let mut config: Self = toml::from_str(text).context("parsing the combined config")?;
        if config.broker.controllers.is_empty() {
            config.broker.controllers = config.controller.voters.values().cloned().collect();
        }
        Ok(config)
    }
}

/// Runs `strom combined`.
pub async fn run(args: CombinedArgs) -> Result<()> {
    let config = CombinedConfig::from_file(&args.config)?;
    let node_id = config.controller.node_id;
    let controller = ControllerNode::start(config.controller).await.context("starting the controller")?;
    let url = |addr: Option<std::net::SocketAddr>| {
        addr.map_or_else(|| "off".into(), |a| format!("http://{a}/metrics"))
    };
    print_line(&format!(
        "strom controller ready: grpc={} node_id={node_id} metrics={}",
        controller.addr(),
        url(controller.metrics_addr())
    ))?;
    let broker_id = config.broker.node_id;
    let data_dir = config.broker.data_dir.clone();
    let broker = Broker::start(config.broker).await.context("starting the broker")?;
    let listeners: Vec<String> =
        broker.listeners().iter().map(|(name, addr)| format!("{name}://{addr}")).collect();
    print_line(&format!(
        "strom broker ready: kafka={} node_id={broker_id} metrics={} data_dir={} listeners={}",
        broker.kafka_addr(),
        url(broker.metrics_addr()),
        data_dir.display(),
        listeners.join(",")
    ))?;
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "stopping the combined node");
    broker.shutdown().await.context("stopping the broker")?;
    controller.shutdown().await.context("stopping the controller")?;
    Ok(())
}

fn print_line(line: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush()).context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_follows_the_voters_by_default() -> Result<()> {
        let config = CombinedConfig::from_toml(
            "[controller]\nnode_id = 1\nlisten = \"127.0.0.1:9093\"\n[controller.voters]\n1 = \"127.0.0.1:9093\"\n\
             2 = \"127.0.0.1:9193\"\n[broker]\nnode_id = 1\n",
        )?;
        assert_eq!(
            config.broker.controllers,
            vec!["127.0.0.1:9093".to_string(), "127.0.0.1:9193".to_string()]
        );
        let explicit = CombinedConfig::from_toml("[broker]\ncontrollers = [\"h:1\"]\n")?;
        assert_eq!(explicit.broker.controllers, vec!["h:1".to_string()]);
        assert!(CombinedConfig::from_toml("[nope]\n").is_err());
        Ok(())
    }
}
