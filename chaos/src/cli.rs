//! The binary's commands and flags: `run` (a whole chaos run) and `check` (re-check a saved history).

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use strom_chaos::CheckResult;
use strom_chaos::cluster::{Cluster, ComposeCluster, ComposeOptions, ProcessCluster, ProcessOptions};
use strom_chaos::nemesis::{FaultSpec, Nemesis, Schedule};
use strom_chaos::run::{HEAL_TIMEOUT, RunConfig};
use strom_chaos::workload::WorkloadConfig;

/// `strom-chaos`.
#[derive(Debug, Parser)]
#[command(
    name = "strom-chaos",
    about = "Fault injection against a Strom cluster with a Jepsen-style checker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a cluster, run the workload under faults, heal, drain, check, write the results.
    Run(RunArgs),
    /// Re-check a saved history.json; with --results, write a fresh report there.
    Check {
        /// The history to check.
        history: PathBuf,
        /// Write results.json, report.md and timeline.png here.
        #[arg(long)]
        results: Option<PathBuf>,
    },
}

/// Where the cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Controllers and brokers as child processes of this one.
    Process,
    /// The docker-compose cluster of deploy/docker-compose.yml (image built from the strom binary).
    Compose,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Where the cluster runs.
    #[arg(long, value_enum, default_value = "process")]
    mode: Mode,
    /// How long faults are injected (`90s`, `3m`, `30m`, `1h`).
    #[arg(long, default_value = "3m", value_parser = parse_duration)]
    duration: Duration,
    /// Fault kinds: `all`, `none`, or a list of kill,leader,controller,pause,partition,restart,disk,skew.
    #[arg(long, default_value = "all")]
    faults: FaultSpec,
    /// Seed of the fault schedule; a run with the same seed and flags injects the same schedule.
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory (default `chaos-results/<seed>`).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Seconds between faults, `MIN..MAX`.
    #[arg(long, default_value = "5..15", value_parser = parse_range)]
    interval: Range<Duration>,
    /// Seconds a fault is held before it is undone, `MIN..MAX`.
    #[arg(long, default_value = "3..10", value_parser = parse_range)]
    hold: Range<Duration>,
    /// Partitions of the workload topic (replication factor 3, min.insync.replicas 2).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Idempotent acks=all producers.
    #[arg(long, default_value_t = 2)]
    producers: u32,
    /// Writes per second per producer.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Members of the consumer group.
    #[arg(long, default_value_t = 2)]
    members: u32,
    /// The `strom` binary (default `$STROM_BIN`, or next to this one).
    #[arg(long)]
    strom_bin: Option<PathBuf>,
    /// Compose mode: use the existing `strom:dev` image instead of building it.
    #[arg(long)]
    skip_build: bool,
}

/// Runs the command line; the exit code reflects the verdict.
pub fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Run(args) => run(args),
        Command::Check { history, results } => {
            let saved = strom_chaos::read_history(&history)?;
            let result = strom_chaos::check(&saved);
            if let Some(dir) = results {
                let command = format!("strom-chaos check {}", history.display());
                strom_chaos::write_results(&dir, &saved, &result, &command)?;
            }
            Ok(verdict(&result))
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let results = args.results.clone().unwrap_or_else(|| PathBuf::from(format!("chaos-results/{seed}")));
    let command_line = replay_command(&args, seed);
    eprintln!("strom-chaos: seed {seed} (replay: {command_line})");
    std::fs::create_dir_all(&results).with_context(|| format!("creating {}", results.display()))?;
    let logs = results.join("logs");
    let cluster: Box<dyn Cluster> = match args.mode {
        Mode::Process => {
            let options = ProcessOptions { strom_bin: args.strom_bin.clone(), ..ProcessOptions::new(&logs) };
            Box::new(ProcessCluster::start(options).context("starting the process cluster")?)
        }
        Mode::Compose => {
            let options = ComposeOptions {
                strom_bin: args.strom_bin.clone(),
                skip_build: args.skip_build,
                ..ComposeOptions::new(&logs)
            };
            Box::new(ComposeCluster::start(options).context("starting the compose cluster")?)
        }
    };
    let topic = format!("chaos-{seed}");
    let workload = WorkloadConfig {
        bootstrap: cluster.bootstrap(),
        topic: topic.clone(),
        partitions: args.partitions,
        producers: args.producers,
        rate_per_producer: args.rate,
        group_members: args.members,
        group: format!("chaos-group-{seed}"),
    };
    let replication_factor = cluster.broker_ids().len().min(3) as i32;
    let schedule =
        Schedule::new(seed, args.duration, args.faults.kinds(), args.interval.clone(), args.hold.clone());
    eprintln!("strom-chaos: {} faults scheduled over {:?}", schedule.faults.len(), args.duration);
    let nemesis = Nemesis::new(schedule, &topic, args.partitions);
    let duration = args.duration;
    let config = RunConfig {
        seed,
        duration,
        workload,
        replication_factor,
        results_dir: results.clone(),
        command_line,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = runtime.block_on(strom_chaos::run::run(
        config,
        cluster,
        Box::new(|cluster, history, start: Instant| {
            let report = nemesis.run(&cluster, &history, start);
            // The nemesis stops after its last fault; the workload runs for the whole duration.
            if let Some(left) = duration.checked_sub(start.elapsed()) {
                std::thread::sleep(left);
            }
            eprintln!(
                "strom-chaos: nemesis injected {} faults, skipped {}, errors {}",
                report.injected,
                report.skipped.len(),
                report.errors.len()
            );
            let json = serde_json::to_vec_pretty(&report)?;
            std::fs::write(results.join("nemesis.json"), json).context("writing nemesis.json")?;
            Ok(())
        }),
        Box::new(|cluster| nemesis.heal_all(&cluster, HEAL_TIMEOUT)),
    ))?;
    eprintln!("strom-chaos: results in {} (seed {seed})", results_dir_display(&args, seed));
    Ok(verdict(&result))
}

fn results_dir_display(args: &RunArgs, seed: u64) -> String {
    args.results.as_ref().map_or_else(|| format!("chaos-results/{seed}"), |p| p.display().to_string())
}

/// The command line that replays this run's schedule.
fn replay_command(args: &RunArgs, seed: u64) -> String {
    let secs = |r: &Range<Duration>| format!("{}..{}", r.start.as_secs(), r.end.as_secs());
    let mode = match args.mode {
        Mode::Process => "process",
        Mode::Compose => "compose",
    };
    format!(
        "strom-chaos run --mode {mode} --duration {}s --faults {} --seed {seed} --interval {} --hold {} \
         --partitions {} --producers {} --rate {} --members {}",
        args.duration.as_secs(),
        args.faults,
        secs(&args.interval),
        secs(&args.hold),
        args.partitions,
        args.producers,
        args.rate,
        args.members,
    )
}

/// Prints the verdict; exit code 1 on any anomaly.
fn verdict(result: &CheckResult) -> ExitCode {
    let c = &result.counts;
    eprintln!(
        "strom-chaos: writes {} (ok {}, failed {}, unknown {}), reads {}, final records {}, faults {}, anomalies {}",
        c.writes_attempted,
        c.writes_ok,
        c.writes_failed,
        c.writes_unknown,
        c.reads,
        c.final_records,
        c.faults,
        result.anomalies.len()
    );
    for anomaly in result.anomalies.iter().take(20) {
        eprintln!("  {:?} partition {}: {}", anomaly.kind, anomaly.partition, anomaly.detail);
    }
    if result.ok {
        eprintln!("strom-chaos: OK (no safety anomaly)");
        ExitCode::SUCCESS
    } else {
        eprintln!("strom-chaos: SAFETY ANOMALIES FOUND");
        ExitCode::from(1)
    }
}

/// `90s`, `3m`, `30m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().with_context(|| format!("`{text}` is not a duration like 90s or 3m"))?;
    Ok(Duration::from_secs(match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => bail!("unknown unit `{other}` in `{text}` (s, m or h)"),
    }))
}

/// `MIN..MAX` seconds.
fn parse_range(text: &str) -> Result<Range<Duration>> {
    let (min, max) = text.split_once("..").with_context(|| format!("`{text}` is not MIN..MAX"))?;
    let (min, max): (u64, u64) = (min.trim().parse()?, max.trim().parse()?);
    if min > max {
        bail!("`{text}`: MIN is above MAX");
    }
    Ok(Duration::from_secs(min)..Duration::from_secs(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_ranges() -> Result<()> {
        assert_eq!(parse_duration("90s")?, Duration::from_secs(90));
        assert_eq!(parse_duration("3m")?, Duration::from_secs(180));
        assert_eq!(parse_duration("1h")?, Duration::from_secs(3600));
        assert_eq!(parse_duration("45")?, Duration::from_secs(45));
        assert!(parse_duration("3d").is_err());
        assert_eq!(parse_range("5..15")?, Duration::from_secs(5)..Duration::from_secs(15));
        assert!(parse_range("9..3").is_err());
        Ok(())
    }
}
