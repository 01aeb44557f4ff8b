//! `strom-chaos`: fault injection against a Strom cluster with a Jepsen-style checker.
//!
//! - `strom-chaos run [--mode process|compose] [--duration 3m] [--faults all|kill,leader,...] [--seed N]
//!   [--results DIR]`: starts a cluster, runs the workload while the nemesis injects faults on the
//!   seeded schedule, heals, drains, checks, writes `report.md`, `results.json`, `history.json` and
//!   `timeline.png`. Exit code 1 on any safety anomaly, 2 when the run itself failed.
//! - `strom-chaos check HISTORY.json [--results DIR]`: re-checks a saved history.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rdkafka=off,librdkafka=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::main() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("strom-chaos: {error:#}");
            ExitCode::from(2)
        }
    }
}
