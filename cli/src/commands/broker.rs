//! `strom broker`: run one broker node from a config file, with flag and `STROM_*` overrides, until
//! SIGINT or SIGTERM.
//!
//! Once the listeners are bound it prints exactly one line to stdout,
//! `strom broker ready: kafka=<addr> node_id=<id> data_dir=<dir> listeners=<NAME://addr,...>`, which
//! tests and scripts parse (`kafka=` is the first listener's bound address).

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use strom_broker::listener::ListenerSpec;
use strom_broker::{Broker, BrokerConfig};

use super::node_flags::{BROKER_METRICS_LISTEN, NodeFlags};

/// Arguments of `strom broker`.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// Broker config file (TOML, Kafka's broker keys with `_` for `.`); built-in defaults when omitted.
    #[arg(long, value_name = "FILE", env = "STROM_CONFIG")]
    pub config: Option<PathBuf>,
    /// This broker's id (`node.id`); overrides the file.
    #[arg(long, env = "STROM_NODE_ID", value_name = "ID")]
    pub node_id: Option<i32>,
    /// Address the single Kafka listener (`PLAINTEXT`) binds; port 0 picks a free port. For several
    /// named listeners use `--listeners` instead.
    #[arg(long, env = "STROM_LISTENER", value_name = "HOST:PORT", value_parser = parse_listener)]
    pub listener: Option<SocketAddr>,
    /// Host the single listener advertises to clients in Metadata responses.
    #[arg(long, env = "STROM_ADVERTISED_HOST", value_name = "HOST")]
    pub advertised_host: Option<String>,
    /// Port the single listener advertises to clients in Metadata responses.
    #[arg(long, env = "STROM_ADVERTISED_PORT", value_name = "PORT")]
    pub advertised_port: Option<u16>,
    /// Named Kafka listeners, comma-separated (`listeners`), e.g.
    /// `INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:19092`; port 0 picks a free port.
    #[arg(long, env = "STROM_LISTENERS", value_name = "NAME://HOST:PORT,...", value_delimiter = ',')]
    pub listeners: Option<Vec<ListenerSpec>>,
    /// Address clients are told to use per listener, comma-separated (`advertised.listeners`), e.g.
    /// `INTERNAL://broker-1:9092,EXTERNAL://127.0.0.1:19092`; port 0 means the bound port.
    #[arg(
        long,
        env = "STROM_ADVERTISED_LISTENERS",
        value_name = "NAME://HOST:PORT,...",
        value_delimiter = ','
    )]
    pub advertised_listeners: Option<Vec<ListenerSpec>>,
    /// The listener followers use to reach leaders (`inter.broker.listener.name`); default: the first.
    #[arg(long, env = "STROM_INTER_BROKER_LISTENER_NAME", value_name = "NAME")]
    pub inter_broker_listener_name: Option<String>,
    /// Directory for partition logs and metadata (`log.dirs`).
    #[arg(long, env = "STROM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Controller quorum gRPC addresses, comma-separated (`controller.quorum.bootstrap.servers`);
    /// without it the broker runs alone and keeps its own metadata.
    #[arg(long, env = "STROM_CONTROLLERS", value_name = "HOST:PORT,...", value_delimiter = ',')]
    pub controllers: Option<Vec<String>>,
    /// `broker.heartbeat.interval.ms`.
    #[arg(long, env = "STROM_BROKER_HEARTBEAT_INTERVAL_MS", value_name = "MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Metrics endpoint and node-id-from-hostname.
    #[command(flatten)]
    pub node: NodeFlags,
}

impl BrokerArgs {
    /// The effective config: the file (or defaults), then each flag that was given.
    pub fn to_config(&self) -> Result<BrokerConfig> {
        let mut config = match &self.config {
            Some(path) => BrokerConfig::from_file(path).context("loading broker config")?,
            None => BrokerConfig::default(),
        };
        if let Some(node_id) = self.node_id {
            config.node_id = node_id;
        } else if let Some(id) = self.node.hostname_node_id()? {
            config.node_id = i32::try_from(id).context("node id from the hostname")?;
        }
        config.metrics_listen = self.node.metrics_listen(config.metrics_listen, BROKER_METRICS_LISTEN)?;
        if let Some(listener) = self.listener {
            config.listener = listener;
        }
        if let Some(host) = &self.advertised_host {
            config.advertised_host = Some(host.clone());
        }
        if let Some(port) = self.advertised_port {
            config.advertised_port = Some(port);
        }
        if let Some(listeners) = &self.listeners {
            config.listeners = listeners.clone();
        }
        if let Some(advertised) = &self.advertised_listeners {
            config.advertised_listeners = advertised.clone();
        }
        if let Some(name) = &self.inter_broker_listener_name {
            config.inter_broker_listener_name = Some(name.clone());
        }
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(controllers) = &self.controllers {
            config.controllers = controllers.clone();
        }
        if let Some(ms) = self.heartbeat_interval_ms {
            config.broker_heartbeat_interval_ms = ms;
        }
        config.listener_plan().context("invalid listener config")?;
        Ok(config)
    }
}

/// Runs `strom broker`.
pub async fn run(args: BrokerArgs) -> Result<()> {
    let config = args.to_config()?;
    serve(config, |_| String::new()).await
}

/// Starts a broker, prints the ready line plus `banner(kafka_addr)`, serves until SIGINT/SIGTERM, then
/// shuts down cleanly. A second signal during shutdown aborts it with an error.
pub async fn serve(config: BrokerConfig, banner: impl FnOnce(SocketAddr) -> String) -> Result<()> {
    let node_id = config.node_id;
    let data_dir = config.data_dir.clone();
    tracing::info!(node_id, listener = %config.listener, data_dir = %data_dir.display(), "starting broker");
    let handle = Broker::start(config).await.context("starting broker")?;
    let kafka_addr = handle.kafka_addr();
    let listeners: Vec<String> =
        handle.listeners().iter().map(|(name, addr)| format!("{name}://{addr}")).collect();
    let metrics = handle.metrics_addr().map_or_else(|| "off".to_string(), |a| format!("http://{a}/metrics"));
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(
            stdout,
            "strom broker ready: kafka={kafka_addr} node_id={node_id} metrics={metrics} data_dir={} listeners={}",
            data_dir.display(),
            listeners.join(",")
        )
        .and_then(|()| stdout.write_all(banner(kafka_addr).as_bytes()))
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    }
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down broker");
    tokio::select! {
        result = handle.shutdown() => result.context("shutting down broker")?,
        second = shutdown_signal() => anyhow::bail!("shutdown interrupted by {}", second?),
    }
    tracing::info!("broker stopped");
    Ok(())
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM and returns its name.
pub async fn shutdown_signal() -> Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| "SIGINT").context("waiting for SIGINT"),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

/// Parses a listener address: `HOST:PORT`, `[v6]:PORT` or Kafka's `PLAINTEXT://HOST:PORT`; host names
/// are resolved and the first address is used.
pub fn parse_listener(text: &str) -> Result<SocketAddr, String> {
    let address = text.strip_prefix("PLAINTEXT://").unwrap_or(text);
    if let Ok(addr) = address.parse() {
        return Ok(addr);
    }
    address
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve `{address}`: {err}"))?
        .next()
        .ok_or_else(|| format!("`{address}` resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_forms() {
        assert_eq!(parse_listener("127.0.0.1:9092"), Ok(SocketAddr::from(([127, 0, 0, 1], 9092))));
        assert_eq!(parse_listener("PLAINTEXT://0.0.0.0:0"), Ok(SocketAddr::from(([0, 0, 0, 0], 0))));
        assert!(parse_listener("localhost:9093").is_ok_and(|a| a.port() == 9093));
        assert!(parse_listener("nonsense").is_err());
    }

    #[test]
    fn flags_override_defaults() -> Result<()> {
        let args = BrokerArgs {
            config: None,
            node_id: Some(7),
            listener: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            advertised_host: Some("kafka.local".into()),
            advertised_port: None,
            listeners: None,
            advertised_listeners: None,
            inter_broker_listener_name: None,
            data_dir: Some(PathBuf::from("/tmp/x")),
            controllers: Some(vec!["127.0.0.1:9093".into(), "127.0.0.1:9094".into()]),
            heartbeat_interval_ms: Some(250),
            node: NodeFlags::default(),
        };
        let config = args.to_config()?;
        assert_eq!(config.node_id, 7);
        assert_eq!(config.listener.port(), 0);
        assert_eq!(config.advertised_host.as_deref(), Some("kafka.local"));
        assert_eq!(config.advertised_port, None);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.controllers, vec!["127.0.0.1:9093".to_string(), "127.0.0.1:9094".to_string()]);
        assert_eq!(config.broker_heartbeat_interval_ms, 250);
        Ok(())
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
    }

    fn parse(args: &[&str]) -> Result<BrokerConfig> {
        let cli =
            <Cli as clap::Parser>::try_parse_from(std::iter::once("strom").chain(args.iter().copied()))?;
        cli.broker.to_config()
    }

    #[test]
    fn listener_flags_parse_and_win_over_the_file() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("broker.toml");
        std::fs::write(
            &file,
            "listeners = [\"A://127.0.0.1:1\"]\nadvertised_listeners = [\"A://a.example:1\"]\n",
        )?;
        let file = file.display().to_string();
        let config = parse(&[
            "--config",
            &file,
            "--listeners",
            "INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:19092",
            "--advertised-listeners",
            "INTERNAL://broker-1:9092,EXTERNAL://127.0.0.1:19092",
            "--inter-broker-listener-name",
            "INTERNAL",
        ])?;
        let names: Vec<&str> = config.listeners.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["INTERNAL", "EXTERNAL"]);
        assert_eq!(config.advertised_listeners[1].to_string(), "EXTERNAL://127.0.0.1:19092");
        assert_eq!(config.inter_broker_listener_name.as_deref(), Some("INTERNAL"));
        let from_file = parse(&["--config", &file])?;
        assert_eq!(from_file.advertised_listeners[0].host, "a.example");
        Ok(())
    }

    #[test]
    fn bad_listener_flags_are_rejected() {
        let message = |args: &[&str]| format!("{:#}", parse(args).expect_err("rejected"));
        let mixed = message(&["--listener", "127.0.0.1:0", "--listeners", "A://127.0.0.1:0"]);
        assert!(mixed.contains("cannot be combined with `listener`"), "{mixed}");
        let syntax = message(&["--listeners", "A://127.0.0.1:0,b://h:1"]);
        assert!(syntax.contains("`b://h:1` is not NAME://HOST:PORT"), "{syntax}");
        let unknown = message(&["--listeners", "A://127.0.0.1:0", "--advertised-listeners", "B://h:1"]);
        assert!(unknown.contains("names B, which is not in the listeners (A)"), "{unknown}");
    }
}
