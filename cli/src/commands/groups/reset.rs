//! `strom groups --reset-offsets`: new committed offsets for an inactive group, computed from the
//! partitions' log start and end (ListOffsets earliest/latest), an offset by time (ListOffsets with a
//! timestamp) or the current committed offset, printed (`--dry-run`) or committed (`--execute`, one
//! OffsetCommit as a standalone client: generation -1, no member id).
//!
//! ```text
//!  FindCoordinator ─► DescribeGroups (must be Empty/Dead) ─► OffsetFetch ─► Metadata (partitions)
//!    ─► ListOffsets earliest + latest [+ by time] on the leaders ─► new_offset() ─► [OffsetCommit]
//! ```

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::cluster::{Cluster, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, TopicPartition};
use super::coordinator::offset_commit;
use super::describe::snapshot;
use crate::wire::error_name;

/// Commit errors that mean the group has active members (or a generation) the standalone commit does
/// not belong to: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID,
/// STALE_MEMBER_EPOCH.
const ACTIVE_GROUP_ERRORS: [i16; 5] = [25, 22, 27, 82, 113];

/// How to compute each partition's new offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset.
    Latest,
    /// The committed offset (log end without one).
    Current,
    /// A given offset, clamped to the log.
    Offset(i64),
    /// The committed offset moved by N (may be negative), clamped to the log.
    ShiftBy(i64),
    /// The first offset whose record timestamp is at or after this time (ms), log end if none.
    Datetime(i64),
}

/// What is known of one partition when computing its new offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// The log start offset.
    pub log_start: i64,
    /// The log end offset (high watermark).
    pub log_end: i64,
    /// ListOffsets' answer for [`ResetSpec::Datetime`] (-1 or `None`: no record that late).
    pub at_time: Option<i64>,
}

/// The new offset of one partition, as Kafka's tool computes it: explicit offsets and shifts are
/// clamped to `[log_start, log_end]`; a shift needs a committed offset.
pub fn new_offset(spec: ResetSpec, tp: &TopicPartition, offsets: &PartitionOffsets) -> Result<i64> {
    let clamp = |offset: i64| offset.clamp(offsets.log_start, offsets.log_end.max(offsets.log_start));
    Ok(match spec {
        ResetSpec::Earliest => offsets.log_start,
        ResetSpec::Latest => offsets.log_end,
        ResetSpec::Current => offsets.committed.unwrap_or(offsets.log_end),
        ResetSpec::Offset(offset) => clamp(offset),
        ResetSpec::ShiftBy(n) => {
            let committed = offsets.committed.with_context(|| {
                format!(
                    "cannot shift the offset of {}-{}: the group has no committed offset there",
                    tp.0, tp.1
                )
            })?;
            clamp(committed.saturating_add(n))
        }
        ResetSpec::Datetime(_) => offsets.at_time.filter(|o| *o >= 0).unwrap_or(offsets.log_end),
    })
}

/// Parses `--topic` values: `orders` (every partition) or `orders:0,2`.
pub fn parse_topic_spec(spec: &str) -> Result<(String, Option<Vec<i32>>)> {
    let Some((topic, partitions)) = spec.split_once(':') else { return Ok((spec.to_string(), None)) };
    if topic.is_empty() {
        bail!("invalid --topic '{spec}': no topic name");
    }
    let partitions = partitions
        .split(',')
        .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
        .collect::<Option<Vec<i32>>>()
        .with_context(|| format!("invalid --topic '{spec}': expected TOPIC or TOPIC:P,P,…"))?;
    Ok((topic.to_string(), Some(partitions)))
}

/// Which partitions to reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetScope {
    /// `--topic` values, parsed.
    Topics(Vec<(String, Option<Vec<i32>>)>),
    /// `--all-topics`: every partition the group has committed offsets for.
    AllTopics,
}

/// One row of the reset table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetRow {
    /// The group id.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The offset the group will (dry run) or did (execute) commit.
    pub new_offset: i64,
}

/// Expands the scope into partitions, checking that named topics and partitions exist.
async fn partitions(
    cluster: &mut Cluster,
    scope: &ResetScope,
    committed: &BTreeMap<TopicPartition, i64>,
) -> Result<Vec<TopicPartition>> {
    let ResetScope::Topics(topics) = scope else { return Ok(committed.keys().cloned().collect()) };
    cluster.ensure_topics(topics.iter().map(|(t, _)| t)).await?;
    let mut out = Vec::new();
    for (topic, wanted) in topics {
        let existing = cluster.partitions(topic);
        if existing.is_empty() {
            bail!("topic '{topic}' does not exist");
        }
        for p in wanted.clone().unwrap_or_else(|| existing.clone()) {
            if !existing.contains(&p) {
                bail!("partition {topic}-{p} does not exist");
            }
            out.push((topic.clone(), p));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Computes (and with `execute` commits) new offsets for `group`.
pub async fn reset_group(
    cluster: &mut Cluster,
    group: &str,
    scope: &ResetScope,
    spec: ResetSpec,
    execute: bool,
) -> Result<Vec<ResetRow>> {
    let snap = snapshot(cluster, group, true).await?;
    if snap.description.is_none() && execute {
        eprintln!(
            "Warning: {} does not support DescribeGroups (API not supported by the broker): whether group \
             '{group}' is inactive is left to the coordinator's commit check.",
            snap.coordinator.addr()
        );
    }
    if let Some(state) = snap.state().filter(|s| !matches!(*s, "Empty" | "Dead")) {
        bail!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}."
        );
    }
    let committed = &snap.committed;
    let partitions = partitions(cluster, scope, committed).await?;
    let log_start = cluster.list_offsets_strict(&partitions, EARLIEST_TIMESTAMP).await?;
    let log_end = cluster.list_offsets_strict(&partitions, LATEST_TIMESTAMP).await?;
    let at_time = match spec {
        ResetSpec::Datetime(ms) => cluster.list_offsets_strict(&partitions, ms).await?,
        _ => BTreeMap::new(),
    };
    let mut new_offsets = BTreeMap::new();
    for tp in &partitions {
        let offsets = PartitionOffsets {
            committed: committed.get(tp).copied(),
            log_start: log_start[tp],
            log_end: log_end[tp],
            at_time: at_time.get(tp).copied(),
        };
        new_offsets.insert(tp.clone(), new_offset(spec, tp, &offsets)?);
    }
    if execute && !new_offsets.is_empty() {
        let conn = cluster.conn(&snap.coordinator.addr()).await?;
        let answers = offset_commit(conn, group, &new_offsets).await?;
        check_commit(group, &new_offsets, &answers)?;
    }
    Ok(new_offsets
        .into_iter()
        .map(|((topic, partition), new_offset)| ResetRow {
            group: group.to_string(),
            topic,
            partition,
            new_offset,
        })
        .collect())
}

/// Turns OffsetCommit's per-partition answers into one error, naming the inactive-group rule when
/// the coordinator refused a standalone commit because the group has members.
fn check_commit(
    group: &str,
    requested: &BTreeMap<TopicPartition, i64>,
    answers: &BTreeMap<TopicPartition, i16>,
) -> Result<()> {
    let mut failures = Vec::new();
    for tp in requested.keys() {
        match answers.get(tp) {
            Some(0) => {}
            Some(code) if ACTIVE_GROUP_ERRORS.contains(code) => bail!(
                "Assignments can only be reset if the group '{group}' is inactive (the coordinator refused the \
                 commit: {})",
                error_name(*code)
            ),
            Some(code) => failures.push(format!("{}-{}: {}", tp.0, tp.1, error_name(*code))),
            None => failures.push(format!("{}-{}: no answer", tp.0, tp.1)),
        }
    }
    if !failures.is_empty() {
        bail!("committing the offsets of group '{group}' failed for {}", failures.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(committed: Option<i64>, at_time: Option<i64>) -> PartitionOffsets {
        PartitionOffsets { committed, log_start: 10, log_end: 50, at_time }
    }

    fn compute(spec: ResetSpec, o: PartitionOffsets) -> Result<i64> {
        new_offset(spec, &("t".to_string(), 0), &o)
    }

    #[test]
    fn new_offsets_follow_kafkas_rules() -> Result<()> {
        let o = offsets(Some(30), Some(42));
        assert_eq!(compute(ResetSpec::Earliest, o)?, 10);
        assert_eq!(compute(ResetSpec::Latest, o)?, 50);
        assert_eq!(compute(ResetSpec::Current, o)?, 30);
        assert_eq!(compute(ResetSpec::Current, offsets(None, None))?, 50, "no commit: log end");
        assert_eq!(compute(ResetSpec::Offset(20), o)?, 20);
        assert_eq!(compute(ResetSpec::Offset(3), o)?, 10, "below the log start");
        assert_eq!(compute(ResetSpec::Offset(99), o)?, 50, "past the log end");
        assert_eq!(compute(ResetSpec::ShiftBy(-5), o)?, 25);
        assert_eq!(compute(ResetSpec::ShiftBy(-500), o)?, 10);
        assert_eq!(compute(ResetSpec::ShiftBy(i64::MAX), o)?, 50);
        let err = compute(ResetSpec::ShiftBy(1), offsets(None, None)).expect_err("nothing to shift");
        assert!(err.to_string().contains("no committed offset"), "{err}");
        assert_eq!(compute(ResetSpec::Datetime(1), o)?, 42);
        assert_eq!(compute(ResetSpec::Datetime(1), offsets(None, Some(-1)))?, 50, "nothing that late");
        Ok(())
    }

    #[test]
    fn topic_specs() -> Result<()> {
        assert_eq!(parse_topic_spec("orders")?, ("orders".into(), None));
        assert_eq!(parse_topic_spec("orders:0,2")?, ("orders".into(), Some(vec![0, 2])));
        assert!(parse_topic_spec("orders:").is_err());
        assert!(parse_topic_spec("orders:a").is_err());
        assert!(parse_topic_spec("orders:-1").is_err());
        assert!(parse_topic_spec(":1").is_err());
        Ok(())
    }

    #[test]
    fn commit_errors_name_the_inactive_rule() {
        let tp = ("t".to_string(), 0);
        let requested = BTreeMap::from([(tp.clone(), 3)]);
        assert!(check_commit("g", &requested, &BTreeMap::from([(tp.clone(), 0)])).is_ok());
        let active = check_commit("g", &requested, &BTreeMap::from([(tp.clone(), 25)])).expect_err("active");
        assert!(active.to_string().contains("can only be reset if the group 'g' is inactive"), "{active}");
        assert!(active.to_string().contains("UNKNOWN_MEMBER_ID"), "{active}");
        let other = check_commit("g", &requested, &BTreeMap::from([(tp, 3)])).expect_err("unknown topic");
        assert!(other.to_string().contains("t-0: UNKNOWN_TOPIC_OR_PARTITION"), "{other}");
        assert!(check_commit("g", &requested, &BTreeMap::new()).is_err(), "no answer");
        let names: Vec<String> = ACTIVE_GROUP_ERRORS.iter().map(|c| error_name(*c)).collect();
        assert_eq!(
            names,
            [
                "UNKNOWN_MEMBER_ID",
                "ILLEGAL_GENERATION",
                "REBALANCE_IN_PROGRESS",
                "FENCED_INSTANCE_ID",
                "STALE_MEMBER_EPOCH"
            ]
        );
    }
}
