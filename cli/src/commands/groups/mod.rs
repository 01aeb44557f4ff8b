//! `strom groups`: consumer groups, like `kafka-consumer-groups.sh` — list, describe (offsets, lag,
//! lag in seconds, members, state), delete, and reset committed offsets. Everything goes over the
//! Kafka protocol ([`crate::wire`], PLAINTEXT listeners), so it works against Apache Kafka as well.
//!
//! ```text
//!  --list          Metadata ─► ListGroups on every broker ─► merge
//!  --describe      FindCoordinator ─► DescribeGroups + OffsetFetch on the coordinator
//!                    ─► ListOffsets latest on the leaders ─► Fetch one batch at each lagging offset
//!  --delete        FindCoordinator ─► DeleteGroups
//!  --reset-offsets FindCoordinator ─► DescribeGroups (inactive?) ─► OffsetFetch ─► ListOffsets
//!                    ─► print, or OffsetCommit (generation -1, no member id) with --execute
//! ```
//!
//! Owns no state and never joins a group: it only reads what coordinators and leaders report, and
//! commits offsets only as a standalone client, which coordinators refuse while a group has members.

mod assignment;
mod cluster;
mod coordinator;
mod datetime;
mod describe;
mod history;
mod list;
mod output;
mod reset;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::{ArgGroup, Args};

use self::cluster::Cluster;
use self::describe::{DescribeView, run_describe};
use self::reset::{ResetScope, ResetSpec, parse_topic_spec, reset_group};
use crate::output::{OutputArgs, print_json, print_text};

/// Arguments of `strom groups` (kafka-consumer-groups' flags).
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "describe", "delete", "reset_offsets"])))]
#[command(group(ArgGroup::new("reset_spec").args(
    ["to_earliest", "to_latest", "to_current", "to_datetime", "shift_by", "to_offset"]
)))]
pub struct GroupsArgs {
    /// Bootstrap servers, comma-separated (PLAINTEXT listeners).
    #[arg(
        long,
        env = "STROM_BOOTSTRAP_SERVER",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT[,HOST:PORT]"
    )]
    bootstrap_server: String,
    /// List the consumer groups of every broker.
    #[arg(long)]
    list: bool,
    /// Describe groups: offsets and lag per partition (default), --members or --state.
    #[arg(long)]
    describe: bool,
    /// Delete groups (they must have no active members).
    #[arg(long)]
    delete: bool,
    /// Reset the committed offsets of an inactive group (with --dry-run or --execute).
    #[arg(long)]
    reset_offsets: bool,
    /// The group to act on (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Act on every consumer group.
    #[arg(long, conflicts_with = "groups")]
    all_groups: bool,
    /// With --list: show each group's state, or only groups in these states (`Stable,Empty`); with
    /// --describe: one state line per group.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "STATE[,STATE]")]
    state: Option<String>,
    /// With --describe: the members and how many partitions each owns.
    #[arg(long)]
    members: bool,
    /// With --describe: offsets and lag per partition (the default).
    #[arg(long)]
    offsets: bool,
    /// With --describe --members: also each member's assignment.
    #[arg(long)]
    verbose: bool,
    /// With --describe: the group's rebalances (generation, cause, members, duration) as its
    /// coordinator saw them, and counts by cause.
    #[arg(long, requires = "describe", conflicts_with_all = ["members", "offsets", "state"])]
    history: bool,
    /// With --reset-offsets: a topic, or some of its partitions (`orders:0,2`); repeatable.
    #[arg(long = "topic", value_name = "TOPIC[:P,P]")]
    topics: Vec<String>,
    /// With --reset-offsets: every topic the group has committed offsets for.
    #[arg(long, conflicts_with = "topics")]
    all_topics: bool,
    /// Reset to the log start offset.
    #[arg(long)]
    to_earliest: bool,
    /// Reset to the log end offset.
    #[arg(long)]
    to_latest: bool,
    /// Reset to the committed offset (log end where there is none).
    #[arg(long)]
    to_current: bool,
    /// Reset to the first record at or after this time (no zone: UTC).
    #[arg(long, value_name = "YYYY-MM-DDTHH:mm:SS.sss[Z]")]
    to_datetime: Option<String>,
    /// Move the committed offsets by N (negative: back), within the log.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    shift_by: Option<i64>,
    /// Reset to this offset (clamped to the log).
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// Only print the new offsets (the default).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    execute: bool,
    /// Timeout of each request.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    request_timeout_ms: u64,
    #[command(flatten)]
    output: OutputArgs,
}

impl GroupsArgs {
    /// Rejects flag combinations kafka-consumer-groups rejects, before any request.
    fn validate(&self) -> Result<()> {
        let targets_groups = !self.groups.is_empty() || self.all_groups;
        let reset_flags = !self.topics.is_empty()
            || self.all_topics
            || self.dry_run
            || self.execute
            || self.has_reset_spec();
        if self.list && targets_groups {
            bail!("--list takes no --group or --all-groups");
        }
        if !self.list && !targets_groups {
            bail!("name the groups: --group GROUP (repeatable) or --all-groups");
        }
        if !self.describe && (self.members || self.offsets || self.verbose) {
            bail!("--members, --offsets and --verbose only go with --describe");
        }
        if self.describe {
            let views = [self.members, self.offsets, self.state.is_some()].iter().filter(|v| **v).count();
            if views > 1 {
                bail!("choose one of --offsets, --members and --state");
            }
            if self.state.as_deref().is_some_and(|s| !s.is_empty()) {
                bail!("--state takes no value with --describe");
            }
            if self.verbose && !self.members {
                bail!("--verbose only goes with --describe --members");
            }
        }
        if self.state.is_some() && !(self.list || self.describe) {
            bail!("--state only goes with --list or --describe");
        }
        if !self.reset_offsets && reset_flags {
            bail!(
                "--topic, --all-topics, --to-*, --shift-by, --dry-run and --execute only go with --reset-offsets"
            );
        }
        if self.reset_offsets {
            if !self.has_reset_spec() {
                bail!(
                    "choose how to reset: --to-earliest, --to-latest, --to-current, --to-datetime, --shift-by or \
                     --to-offset"
                );
            }
            if self.topics.is_empty() && !self.all_topics {
                bail!("name the partitions to reset: --topic TOPIC[:P,P] (repeatable) or --all-topics");
            }
            self.reset_spec()?;
        }
        Ok(())
    }

    fn has_reset_spec(&self) -> bool {
        self.to_earliest
            || self.to_latest
            || self.to_current
            || self.to_datetime.is_some()
            || self.shift_by.is_some()
            || self.to_offset.is_some()
    }

    /// The reset specification, if one was given.
    fn reset_spec(&self) -> Result<Option<ResetSpec>> {
        Ok(Some(match () {
            _ if self.to_earliest => ResetSpec::Earliest,
            _ if self.to_latest => ResetSpec::Latest,
            _ if self.to_current => ResetSpec::Current,
            _ => match (&self.to_datetime, self.shift_by, self.to_offset) {
                (Some(text), _, _) => ResetSpec::Datetime(datetime::parse_datetime(text)?),
                (_, Some(n), _) => ResetSpec::ShiftBy(n),
                (_, _, Some(offset)) => ResetSpec::Offset(offset),
                _ => return Ok(None),
            },
        }))
    }

    fn view(&self) -> DescribeView {
        if self.members {
            DescribeView::Members { verbose: self.verbose }
        } else if self.state.is_some() {
            DescribeView::State
        } else {
            DescribeView::Offsets
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The groups named with --group, or every consumer group with --all-groups.
async fn target_groups(cluster: &mut Cluster, args: &GroupsArgs) -> Result<Vec<String>> {
    if !args.all_groups {
        return Ok(args.groups.clone());
    }
    Ok(list::all_groups(cluster, None).await?.into_iter().map(|g| g.group_id).collect())
}

/// Runs `strom groups`.
pub async fn run(args: GroupsArgs) -> Result<()> {
    args.validate()?;
    let timeout = Duration::from_millis(args.request_timeout_ms.max(1));
    let mut cluster = Cluster::connect(&args.bootstrap_server, timeout).await?;
    let json = args.output.is_json();
    if args.list {
        let states = args.state.as_ref().map(|s| {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>()
        });
        return list::run_list(&mut cluster, states, json).await;
    }
    let groups = target_groups(&mut cluster, &args).await?;
    if args.describe && args.history {
        return history::run_history(&mut cluster, &groups, json).await;
    }
    if args.describe {
        return run_describe(&mut cluster, &groups, args.view(), json, now_ms).await;
    }
    if args.delete {
        if groups.is_empty() {
            bail!("there are no consumer groups to delete");
        }
        return list::run_delete(&mut cluster, &groups, json).await;
    }
    let Some(spec) = args.reset_spec()? else { bail!("no reset specification") };
    let scope = if args.all_topics {
        ResetScope::AllTopics
    } else {
        ResetScope::Topics(args.topics.iter().map(|t| parse_topic_spec(t)).collect::<Result<_>>()?)
    };
    if !args.dry_run && !args.execute {
        eprintln!(
            "WARN: No action will be performed as the --execute option is missing (add --dry-run to silence this)."
        );
    }
    let mut rows = Vec::new();
    for group in &groups {
        rows.extend(reset_group(&mut cluster, group, &scope, spec, args.execute).await?);
    }
    if json { print_json(&rows) } else { print_text(&output::render_reset(&rows)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: GroupsArgs,
    }

    fn parse(args: &[&str]) -> Result<GroupsArgs> {
        let cli = Cli::try_parse_from(std::iter::once("groups").chain(args.iter().copied()))?;
        cli.args.validate()?;
        Ok(cli.args)
    }

    #[test]
    fn actions_and_views() -> Result<()> {
        assert!(parse(&["--list"])?.state.is_none());
        assert_eq!(parse(&["--list", "--state"])?.state.as_deref(), Some(""));
        assert_eq!(parse(&["--list", "--state", "Stable,Empty"])?.state.as_deref(), Some("Stable,Empty"));
        assert_eq!(parse(&["--describe", "--group", "a", "--group", "b"])?.groups, ["a", "b"]);
        assert_eq!(parse(&["--describe", "--all-groups", "--state"])?.view(), DescribeView::State);
        assert_eq!(
            parse(&["--describe", "--group", "g", "--members", "--verbose"])?.view(),
            DescribeView::Members { verbose: true }
        );
        assert_eq!(parse(&["--describe", "--group", "g", "--offsets"])?.view(), DescribeView::Offsets);
        for bad in [
            &["--list", "--describe"][..],
            &[],
            &["--list", "--group", "g"],
            &["--describe"],
            &["--describe", "--group", "g", "--all-groups"],
            &["--describe", "--group", "g", "--members", "--state"],
            &["--describe", "--group", "g", "--state", "Stable"],
            &["--describe", "--group", "g", "--verbose"],
            &["--delete", "--group", "g", "--members"],
            &["--describe", "--group", "g", "--topic", "t"],
            &["--delete", "--group", "g", "--execute"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        Ok(())
    }

    #[test]
    fn reset_flags() -> Result<()> {
        let args =
            parse(&["--reset-offsets", "--group", "g", "--topic", "t:0,1", "--shift-by", "-2", "--execute"])?;
        assert_eq!(args.reset_spec()?, Some(ResetSpec::ShiftBy(-2)));
        let args = parse(&[
            "--reset-offsets",
            "--group",
            "g",
            "--all-topics",
            "--to-datetime",
            "1970-01-01T00:00:01.000",
        ])?;
        assert_eq!(args.reset_spec()?, Some(ResetSpec::Datetime(1_000)));
        assert_eq!(
            parse(&["--reset-offsets", "--group", "g", "--all-topics", "--to-offset", "3", "--dry-run"])?
                .reset_spec()?,
            Some(ResetSpec::Offset(3))
        );
        for bad in [
            &["--reset-offsets", "--group", "g", "--all-topics"][..],
            &["--reset-offsets", "--group", "g", "--to-earliest"],
            &["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--to-latest"],
            &["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--dry-run", "--execute"],
            &["--reset-offsets", "--group", "g", "--topic", "t", "--all-topics", "--to-earliest"],
            &["--reset-offsets", "--group", "g", "--all-topics", "--to-datetime", "yesterday"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        Ok(())
    }
}
