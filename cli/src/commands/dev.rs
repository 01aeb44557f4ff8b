//! `strom dev`: a single local broker with development defaults and a banner showing how to use it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use strom_broker::BrokerConfig;

use crate::commands::broker::{parse_listener, serve};

/// Arguments of `strom dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Directory for partition logs and metadata.
    #[arg(long, default_value = "./strom-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address the Kafka listener binds.
    #[arg(long, default_value = "127.0.0.1:9092", value_name = "HOST:PORT", value_parser = parse_listener)]
    pub listener: SocketAddr,
}

/// Runs `strom dev`.
pub async fn run(args: DevArgs) -> Result<()> {
    let config =
        BrokerConfig { listener: args.listener, data_dir: args.data_dir.clone(), ..BrokerConfig::default() };
    serve(config, |addr| banner(addr, &args.data_dir)).await
}

/// The text printed under the ready line: bootstrap address and commands to try.
fn banner(addr: SocketAddr, data_dir: &std::path::Path) -> String {
    let bootstrap = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port())).to_string()
    } else {
        addr.to_string()
    };
    let b = format!("--bootstrap-server {bootstrap}");
    let mut text = String::new();
    let _ = write!(
        text,
        "\n  Strom dev broker is running.\n\n\
         \x20 Bootstrap server:  {bootstrap}\n\
         \x20 Data directory:    {}\n\n\
         \x20 Try:\n\
         \x20   strom topics {b} --create --topic demo --partitions 3\n\
         \x20   strom topics {b} --list\n\
         \x20   strom topics {b} --describe --topic demo\n\
         \x20   printf 'k1:hello\\nk2:world\\n' | strom produce {b} --topic demo \\\n\
         \x20       --property parse.key=true --property key.separator=:\n\
         \x20   strom consume {b} --topic demo --from-beginning --max-messages 2 --property print.key=true\n\
         \x20   strom bench produce {b} --topic bench --records 100000 --partitions 3\n\n\
         \x20 Any Kafka client works too: bootstrap.servers={bootstrap}\n\
         \x20 Press Ctrl-C to stop.\n",
        data_dir.display()
    );
    text
}
