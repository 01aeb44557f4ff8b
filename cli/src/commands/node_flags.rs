//! Flags that `strom broker` and `strom controller` share: the HTTP endpoint for metrics and health
//! checks, and deriving the node id from a StatefulSet-style hostname (`name-0` → 1), so container
//! images without a shell can still give every replica its own id.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, bail};
use clap::Args;

/// Default HTTP endpoint of a broker.
pub const BROKER_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// Default HTTP endpoint of a controller.
pub const CONTROLLER_METRICS_LISTEN: &str = "127.0.0.1:9465";

/// Where the HTTP endpoint binds: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    /// No HTTP endpoint.
    Off,
    /// Bind this address (port 0 picks a free port).
    At(SocketAddr),
}

/// The shared node flags.
#[derive(Debug, Clone, Default, Args)]
pub struct NodeFlags {
    /// HTTP endpoint for `/metrics`, `/health/live` and `/health/ready` (HOST:PORT, port 0 picks a
    /// free one, or `off`); default 127.0.0.1:9464 for a broker, 127.0.0.1:9465 for a controller.
    #[arg(long, env = "STROM_METRICS_LISTEN", value_name = "HOST:PORT|off", value_parser = parse_metrics_listen)]
    pub metrics_listen: Option<MetricsListen>,
    /// Take the node id from the hostname's trailing ordinal plus one (`strom-broker-2` → 3), as
    /// Kubernetes StatefulSet pods are named; used when no node id is given.
    #[arg(long, env = "STROM_NODE_ID_FROM_HOSTNAME", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub node_id_from_hostname: Option<bool>,
}

impl NodeFlags {
    /// The endpoint address: the flag, else what the config file set, else `default`.
    pub fn metrics_listen(&self, from_file: Option<SocketAddr>, default: &str) -> Result<Option<SocketAddr>> {
        match self.metrics_listen {
            Some(MetricsListen::Off) => Ok(None),
            Some(MetricsListen::At(addr)) => Ok(Some(addr)),
            None => match from_file {
                Some(addr) => Ok(Some(addr)),
                None => Ok(Some(default.parse().context("default metrics address")?)),
            },
        }
    }

    /// The node id from the hostname, when asked for.
    pub fn hostname_node_id(&self) -> Result<Option<u64>> {
        if self.node_id_from_hostname != Some(true) {
            return Ok(None);
        }
        let hostname = hostname().context("reading the hostname for --node-id-from-hostname")?;
        node_id_from_hostname(&hostname).map(Some)
    }
}

/// `HOST:PORT` (resolved) or `off`.
pub fn parse_metrics_listen(text: &str) -> Result<MetricsListen, String> {
    if matches!(text.trim(), "off" | "none" | "") {
        return Ok(MetricsListen::Off);
    }
    text.to_socket_addrs()
        .map_err(|e| format!("`{text}` is not HOST:PORT or off: {e}"))?
        .next()
        .map(MetricsListen::At)
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// `name-N` → N + 1.
pub fn node_id_from_hostname(hostname: &str) -> Result<u64> {
    let short = hostname.trim().split('.').next().unwrap_or_default();
    let Some((_, ordinal)) = short.rsplit_once('-') else {
        bail!("hostname `{hostname}` does not end in -<ordinal>");
    };
    match ordinal.parse::<u64>() {
        Ok(n) => Ok(n + 1),
        Err(_) => bail!("hostname `{hostname}` does not end in -<ordinal>"),
    }
}

fn hostname() -> Result<String> {
    if let Ok(name) = std::env::var("HOSTNAME")
        && !name.trim().is_empty()
    {
        return Ok(name);
    }
    Ok(std::fs::read_to_string("/proc/sys/kernel/hostname")?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints_and_ordinals() -> Result<()> {
        assert_eq!(parse_metrics_listen("off"), Ok(MetricsListen::Off));
        assert_eq!(parse_metrics_listen("127.0.0.1:0"), Ok(MetricsListen::At("127.0.0.1:0".parse()?)));
        assert!(parse_metrics_listen("nonsense").is_err());
        assert_eq!(node_id_from_hostname("strom-broker-0")?, 1);
        assert_eq!(node_id_from_hostname("strom-controller-2.strom-controller.ns.svc")?, 3);
        assert!(node_id_from_hostname("broker").is_err());
        assert!(node_id_from_hostname("broker-x").is_err());

        let flags = NodeFlags::default();
        assert_eq!(flags.metrics_listen(None, BROKER_METRICS_LISTEN)?, Some("127.0.0.1:9464".parse()?));
        let from_file = Some("0.0.0.0:1234".parse()?);
        assert_eq!(flags.metrics_listen(from_file, BROKER_METRICS_LISTEN)?, from_file);
        let off = NodeFlags { metrics_listen: Some(MetricsListen::Off), ..NodeFlags::default() };
        assert_eq!(off.metrics_listen(from_file, BROKER_METRICS_LISTEN)?, None);
        assert_eq!(NodeFlags::default().hostname_node_id()?, None);
        Ok(())
    }
}
