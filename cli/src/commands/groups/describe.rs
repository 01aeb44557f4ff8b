//! `strom groups --describe`: what a group looks like from its coordinator (DescribeGroups), where it
//! is in each partition (OffsetFetch), how far that is from the log end (ListOffsets on the leaders)
//! and how old the oldest unconsumed record is (one Fetch at the committed offset). The row builders
//! are pure; [`snapshot`] and [`offsets_view`] do the requests.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::assignment::{partition_count, render};
use super::cluster::{Cluster, LATEST_TIMESTAMP, TopicPartition};
use super::coordinator::{
    Coordinator, GroupDescription, Member, describe_group, find_coordinator, offset_fetch,
};
use super::output::{render_members, render_offsets, render_states};
use crate::output::{print_json, print_text};
use strom_broker::record::timestamp::lag_seconds;

/// Everything the coordinator says about one group.
#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    /// The group id.
    pub group: String,
    /// Its coordinator.
    pub coordinator: Coordinator,
    /// DescribeGroups' answer; `None` when the coordinator does not support DescribeGroups.
    pub description: Option<GroupDescription>,
    /// Committed offsets.
    pub committed: BTreeMap<TopicPartition, i64>,
}

impl GroupSnapshot {
    /// The group's state, `None` when unknown.
    pub fn state(&self) -> Option<&str> {
        self.description.as_ref().map(|d| d.state.as_str())
    }

    /// The members (none when unknown).
    pub fn members(&self) -> &[Member] {
        self.description.as_ref().map_or(&[], |d| d.members.as_slice())
    }
}

/// Asks `group`'s coordinator for its description and committed offsets.
pub async fn snapshot(cluster: &mut Cluster, group: &str, need_offsets: bool) -> Result<GroupSnapshot> {
    let coordinator = find_coordinator(cluster, group).await?;
    let conn = cluster.conn(&coordinator.addr()).await?;
    let description = describe_group(conn, group).await?;
    let committed = if need_offsets { offset_fetch(conn, group).await? } else { BTreeMap::new() };
    Ok(GroupSnapshot { group: group.to_string(), coordinator, description, committed })
}

/// One row of the default (`--offsets`) view; `None` prints as `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffsetRow {
    /// The group id.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed offset: the next record the group will consume.
    pub current_offset: Option<i64>,
    /// The partition's log end offset (high watermark).
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - current_offset`.
    pub lag: Option<i64>,
    /// Age in seconds of the oldest unconsumed record (the one at `current_offset`); 0 without lag.
    pub lag_seconds: Option<i64>,
    /// Owner's member id.
    pub consumer_id: Option<String>,
    /// Owner's host.
    pub host: Option<String>,
    /// Owner's client id.
    pub client_id: Option<String>,
}

/// The partitions whose oldest unconsumed record's timestamp LAG-SECONDS needs: committed, with
/// records after the committed offset. Returns `(partition, committed offset)`.
pub fn lagging(
    committed: &BTreeMap<TopicPartition, i64>,
    log_end: &BTreeMap<TopicPartition, i64>,
) -> Vec<(TopicPartition, i64)> {
    committed
        .iter()
        .filter(|(tp, offset)| log_end.get(*tp).is_some_and(|end| end > offset))
        .map(|(tp, offset)| (tp.clone(), *offset))
        .collect()
}

/// The `--offsets` rows of a group: every partition a member owns or the group committed, sorted
/// by topic and partition. `timestamps` holds the timestamp of the record at each committed offset
/// that has lag; `now_ms` is the wall clock.
pub fn offset_rows(
    snapshot: &GroupSnapshot,
    log_end: &BTreeMap<TopicPartition, i64>,
    timestamps: &BTreeMap<TopicPartition, i64>,
    now_ms: i64,
) -> Vec<OffsetRow> {
    let mut owners: BTreeMap<TopicPartition, Option<&Member>> =
        snapshot.committed.keys().map(|tp| (tp.clone(), None)).collect();
    for member in snapshot.members() {
        for (topic, partitions) in member.assignment.iter().flatten() {
            for p in partitions {
                owners.insert((topic.clone(), *p), Some(member));
            }
        }
    }
    owners
        .into_iter()
        .map(|(tp, owner)| {
            let current_offset = snapshot.committed.get(&tp).copied();
            let log_end_offset = log_end.get(&tp).copied();
            let lag = current_offset.zip(log_end_offset).map(|(current, end)| end - current);
            let lag_seconds = lag.and_then(|lag| lag_seconds(now_ms, lag, timestamps.get(&tp).copied()));
            OffsetRow {
                group: snapshot.group.clone(),
                topic: tp.0,
                partition: tp.1,
                current_offset,
                log_end_offset,
                lag,
                lag_seconds,
                consumer_id: owner.map(|m| m.member_id.clone()),
                host: owner.map(|m| m.host.clone()),
                client_id: owner.map(|m| m.client_id.clone()),
            }
        })
        .collect()
}

/// Fetches log end offsets and oldest-unconsumed timestamps and builds the `--offsets` rows.
pub async fn offsets_view(
    cluster: &mut Cluster,
    snapshot: &GroupSnapshot,
    now_ms: impl Fn() -> i64,
) -> Result<Vec<OffsetRow>> {
    let partitions: Vec<TopicPartition> = offset_rows(snapshot, &BTreeMap::new(), &BTreeMap::new(), 0)
        .into_iter()
        .map(|r| (r.topic, r.partition))
        .collect();
    let mut log_end = BTreeMap::new();
    for (tp, answer) in cluster.list_offsets(&partitions, LATEST_TIMESTAMP).await? {
        match answer {
            Ok(offset) => {
                log_end.insert(tp, offset);
            }
            Err(code) => {
                tracing::warn!(topic = %tp.0, partition = tp.1, error = %crate::wire::error_name(code), "no log end offset")
            }
        }
    }
    let mut timestamps = BTreeMap::new();
    for ((topic, partition), offset) in lagging(&snapshot.committed, &log_end) {
        match cluster.record_timestamp(&topic, partition, offset).await {
            Ok(Some(timestamp)) => {
                timestamps.insert((topic, partition), timestamp);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%topic, partition, error = %format!("{error:#}"), "no record timestamp")
            }
        }
    }
    Ok(offset_rows(snapshot, &log_end, &timestamps, now_ms()))
}

/// One row of the `--members` view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    /// The group id.
    pub group: String,
    /// Member id.
    pub consumer_id: String,
    /// Static member id, if any.
    pub group_instance_id: Option<String>,
    /// Host.
    pub host: String,
    /// Client id.
    pub client_id: String,
    /// Number of partitions owned (`None`: assignment not in the consumer protocol).
    pub partitions: Option<usize>,
    /// Owned partitions as `topic(0,1),other(2)`.
    pub assignment: String,
}

/// The `--members` rows of a group, sorted by member id.
pub fn member_rows(snapshot: &GroupSnapshot) -> Vec<MemberRow> {
    let mut rows: Vec<MemberRow> = snapshot
        .members()
        .iter()
        .map(|m| MemberRow {
            group: snapshot.group.clone(),
            consumer_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            host: m.host.clone(),
            client_id: m.client_id.clone(),
            partitions: m.assignment.as_ref().map(partition_count),
            assignment: m.assignment.as_ref().map_or_else(|| "-".into(), render),
        })
        .collect();
    rows.sort_by(|a, b| a.consumer_id.cmp(&b.consumer_id));
    rows
}

/// The `--state` row of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateRow {
    /// The group id.
    pub group: String,
    /// The coordinator.
    pub coordinator: Coordinator,
    /// Assignment strategy (`range`, …), empty when none.
    pub assignment_strategy: String,
    /// State.
    pub state: String,
    /// Number of members.
    pub members: usize,
}

/// The `--state` row of a described group.
pub fn state_row(snapshot: &GroupSnapshot, description: &GroupDescription) -> StateRow {
    StateRow {
        group: snapshot.group.clone(),
        coordinator: snapshot.coordinator.clone(),
        assignment_strategy: description.assignment_strategy.clone(),
        state: description.state.clone(),
        members: description.members.len(),
    }
}

/// The line Kafka's tool prints above a group's table, if any: no such group, no active members,
/// or rebalancing.
pub fn notice(group: &str, state: Option<&str>, members: usize) -> Option<String> {
    match state? {
        "Dead" => Some(format!("Consumer group '{group}' does not exist.")),
        "PreparingRebalance" | "CompletingRebalance" | "Assigning" | "Reconciling" => {
            Some(format!("Warning: Consumer group '{group}' is rebalancing."))
        }
        _ if members == 0 => Some(format!("Consumer group '{group}' has no active members.")),
        _ => None,
    }
}

/// Which table `--describe` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescribeView {
    /// Offsets and lag per partition (the default, `--offsets`).
    Offsets,
    /// Members (`--members`); `verbose` adds their assignments.
    Members {
        /// Print each member's assignment.
        verbose: bool,
    },
    /// One state line per group (`--state`).
    State,
}

/// `--describe --output json` of one group in the offsets view.
#[derive(Debug, Serialize)]
struct OffsetsJson {
    group: String,
    state: Option<String>,
    coordinator: Coordinator,
    offsets: Vec<OffsetRow>,
}

/// `--describe --members --output json` of one group.
#[derive(Debug, Serialize)]
struct MembersJson {
    group: String,
    state: String,
    members: Vec<MemberRow>,
}

fn described(snapshot: &GroupSnapshot) -> Result<&GroupDescription> {
    snapshot.description.as_ref().with_context(|| {
        format!(
            "API not supported by the broker: {} does not support DescribeGroups",
            snapshot.coordinator.addr()
        )
    })
}

/// Runs `--describe` for `groups`; fails (after printing the others) when a group does not exist.
pub async fn run_describe(
    cluster: &mut Cluster,
    groups: &[String],
    view: DescribeView,
    json: bool,
    now_ms: impl Fn() -> i64,
) -> Result<()> {
    let mut blocks = Vec::new();
    let mut offsets_docs = Vec::new();
    let mut members_docs = Vec::new();
    let mut states = Vec::new();
    let mut missing = Vec::new();
    for group in groups {
        let snap = snapshot(cluster, group, view == DescribeView::Offsets).await?;
        if snap.state() == Some("Dead") {
            eprintln!("Error: Consumer group '{group}' does not exist.");
            missing.push(group.clone());
            continue;
        }
        let notice = notice(group, snap.state(), snap.members().len());
        match view {
            DescribeView::Offsets => {
                if snap.description.is_none() {
                    eprintln!(
                        "Warning: {} does not support DescribeGroups (API not supported by the broker); the \
                         members of group '{group}' are unknown.",
                        snap.coordinator.addr()
                    );
                }
                let rows = offsets_view(cluster, &snap, &now_ms).await?;
                blocks.push(render_offsets(notice.as_deref(), &rows));
                let state = snap.state().map(str::to_string);
                let coordinator = snap.coordinator.clone();
                offsets_docs.push(OffsetsJson { group: group.clone(), state, coordinator, offsets: rows });
            }
            DescribeView::Members { verbose } => {
                let state = described(&snap)?.state.clone();
                let rows = member_rows(&snap);
                blocks.push(render_members(notice.as_deref(), &rows, verbose));
                members_docs.push(MembersJson { group: group.clone(), state, members: rows });
            }
            DescribeView::State => states.push(state_row(&snap, described(&snap)?)),
        }
    }
    match view {
        _ if !json && view == DescribeView::State => print_text(&render_states(&states))?,
        _ if !json => print_text(&blocks.join("\n"))?,
        DescribeView::Offsets => print_json(&offsets_docs)?,
        DescribeView::Members { .. } => print_json(&members_docs)?,
        DescribeView::State => print_json(&states)?,
    }
    if !missing.is_empty() {
        bail!("{} consumer group(s) do not exist", missing.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::groups::assignment::Assignment;

    fn member(id: &str, assignment: &[(&str, &[i32])]) -> Member {
        Member {
            member_id: id.into(),
            group_instance_id: None,
            client_id: format!("client-{id}"),
            host: "/127.0.0.1".into(),
            assignment: Some(
                assignment.iter().map(|(t, ps)| (t.to_string(), ps.to_vec())).collect::<Assignment>(),
            ),
        }
    }

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        (topic.to_string(), partition)
    }

    fn snapshot(members: Vec<Member>, committed: &[(&str, i32, i64)]) -> GroupSnapshot {
        GroupSnapshot {
            group: "g".into(),
            coordinator: Coordinator { id: 1, host: "localhost".into(), port: 9092 },
            description: Some(GroupDescription {
                group_id: "g".into(),
                state: if members.is_empty() { "Empty" } else { "Stable" }.into(),
                protocol_type: "consumer".into(),
                assignment_strategy: "range".into(),
                members,
            }),
            committed: committed.iter().map(|(t, p, o)| (tp(t, *p), *o)).collect(),
        }
    }

    #[test]
    fn rows_cover_owned_and_committed_partitions() {
        let s = snapshot(vec![member("m1", &[("a", &[0, 1])])], &[("a", 0, 3), ("b", 0, 5)]);
        let log_end = BTreeMap::from([(tp("a", 0), 10), (tp("a", 1), 4), (tp("b", 0), 5)]);
        assert_eq!(lagging(&s.committed, &log_end), vec![(tp("a", 0), 3)]);
        let timestamps = BTreeMap::from([(tp("a", 0), 40_000)]);
        let rows = offset_rows(&s, &log_end, &timestamps, 100_500);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (r.topic.as_str(), r.partition, r.current_offset, r.log_end_offset, r.lag, r.lag_seconds)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a", 0, Some(3), Some(10), Some(7), Some(60)),
                ("a", 1, None, Some(4), None, None),
                ("b", 0, Some(5), Some(5), Some(0), Some(0)),
            ]
        );
        assert_eq!(rows[0].consumer_id.as_deref(), Some("m1"));
        assert_eq!(rows[1].client_id.as_deref(), Some("client-m1"));
        assert_eq!(rows[2].consumer_id, None, "committed but unowned");
    }

    #[test]
    fn members_state_and_notices() {
        let s = snapshot(vec![member("m2", &[("a", &[1])]), member("m1", &[("a", &[0]), ("b", &[3])])], &[]);
        let rows = member_rows(&s);
        assert_eq!(rows.iter().map(|r| r.consumer_id.as_str()).collect::<Vec<_>>(), ["m1", "m2"]);
        assert_eq!((rows[0].partitions, rows[0].assignment.as_str()), (Some(2), "a(0),b(3)"));
        let state = state_row(&s, s.description.as_ref().expect("described"));
        assert_eq!(
            (state.state.as_str(), state.members, state.assignment_strategy.as_str()),
            ("Stable", 2, "range")
        );
        assert_eq!(notice("g", Some("Stable"), 2), None);
        assert_eq!(
            notice("g", Some("Empty"), 0).as_deref(),
            Some("Consumer group 'g' has no active members.")
        );
        assert_eq!(notice("g", Some("Dead"), 0).as_deref(), Some("Consumer group 'g' does not exist."));
        assert_eq!(
            notice("g", Some("PreparingRebalance"), 1).as_deref(),
            Some("Warning: Consumer group 'g' is rebalancing.")
        );
        assert_eq!(notice("g", None, 0), None, "unknown without DescribeGroups");
    }
}
