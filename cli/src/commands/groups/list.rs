//! `strom groups --list` (ListGroups on every broker, merged) and `--delete` (DeleteGroups on each
//! group's coordinator).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::Serialize;

use super::cluster::Cluster;
use super::coordinator::{ListedGroup, delete_groups, find_coordinator, list_groups};
use super::output::render_list;
use crate::output::{print_json, print_text};
use crate::wire::error_name;

/// Kafka's NON_EMPTY_GROUP ("The group is not empty.").
const NON_EMPTY_GROUP: i16 = 68;
/// Kafka's GROUP_ID_NOT_FOUND.
const GROUP_ID_NOT_FOUND: i16 = 69;

/// Every consumer group of the cluster (ListGroups sent to each broker from Metadata, merged and
/// sorted), only those in `states` when given. Groups of other protocols (Connect workers, …) are
/// left out, as Kafka's tool does.
pub async fn all_groups(cluster: &mut Cluster, states: Option<&[String]>) -> Result<Vec<ListedGroup>> {
    let mut merged: BTreeMap<String, ListedGroup> = BTreeMap::new();
    let addrs: Vec<String> = cluster.brokers().values().cloned().collect();
    for addr in addrs {
        let conn = cluster.conn(&addr).await?;
        for group in list_groups(conn, states).await? {
            if matches!(group.protocol_type.as_str(), "consumer" | "") {
                merged.insert(group.group_id.clone(), group);
            }
        }
    }
    Ok(merged.into_values().collect())
}

/// Runs `--list`; `states` is `None` without `--state`, empty for `--state` alone (show states).
pub async fn run_list(cluster: &mut Cluster, states: Option<Vec<String>>, json: bool) -> Result<()> {
    // An empty filter (ListGroups v4) lists every group, with its state.
    let groups = all_groups(cluster, states.as_deref()).await?;
    if json {
        return print_json(&groups);
    }
    print_text(&render_list(&groups, states.is_some()))
}

/// The outcome of `--delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteReport {
    /// Groups deleted.
    pub deleted: Vec<String>,
    /// Groups not deleted, with why.
    pub failed: Vec<DeleteFailure>,
}

/// One group `--delete` could not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteFailure {
    /// The group id.
    pub group: String,
    /// Kafka's error name (`NON_EMPTY_GROUP`, …).
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

impl DeleteReport {
    /// Sorts DeleteGroups answers (group → error code) into deleted and failed groups.
    pub fn from_results(results: &BTreeMap<String, i16>) -> Self {
        let mut report = Self::default();
        for (group, code) in results {
            let message = match *code {
                0 => {
                    report.deleted.push(group.clone());
                    continue;
                }
                NON_EMPTY_GROUP => format!("Group '{group}' is not empty."),
                GROUP_ID_NOT_FOUND => format!("Group '{group}' does not exist."),
                code => error_name(code),
            };
            report.failed.push(DeleteFailure { group: group.clone(), error: error_name(*code), message });
        }
        report
    }

    /// Kafka's tool output.
    pub fn to_text(&self) -> String {
        let quoted =
            |groups: &[String]| groups.iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ");
        if self.failed.is_empty() {
            return format!(
                "Deletion of requested consumer groups ({}) was successful.\n",
                quoted(&self.deleted)
            );
        }
        let mut text = "Error: Deletion of some consumer groups failed:\n".to_string();
        for f in &self.failed {
            text +=
                &format!("* Group '{}' could not be deleted due to: {} ({})\n", f.group, f.message, f.error);
        }
        if !self.deleted.is_empty() {
            text +=
                &format!("\nThese consumer groups were deleted successfully: {}\n", quoted(&self.deleted));
        }
        text
    }
}

/// Runs `--delete`: one DeleteGroups per coordinator; fails when any group was not deleted.
pub async fn run_delete(cluster: &mut Cluster, groups: &[String], json: bool) -> Result<()> {
    let mut by_coordinator: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in groups {
        let coordinator = find_coordinator(cluster, group).await?;
        by_coordinator.entry(coordinator.addr()).or_default().push(group.clone());
    }
    let mut results = BTreeMap::new();
    for (addr, groups) in by_coordinator {
        let conn = cluster.conn(&addr).await?;
        let answers = delete_groups(conn, &groups).await?;
        for group in groups {
            let code = answers.get(&group).copied();
            let Some(code) = code else { bail!("DeleteGroups did not answer for group '{group}'") };
            results.insert(group, code);
        }
    }
    let report = DeleteReport::from_results(&results);
    if json {
        print_json(&report)?;
    } else {
        print_text(&report.to_text())?;
    }
    if !report.failed.is_empty() {
        bail!("{} group(s) could not be deleted", report.failed.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_report_follows_kafkas_lines() {
        let ok = DeleteReport::from_results(&BTreeMap::from([("a".into(), 0), ("b".into(), 0)]));
        assert_eq!(ok.to_text(), "Deletion of requested consumer groups ('a', 'b') was successful.\n");
        let mixed = DeleteReport::from_results(&BTreeMap::from([
            ("a".into(), 0),
            ("busy".into(), NON_EMPTY_GROUP),
            ("gone".into(), GROUP_ID_NOT_FOUND),
        ]));
        assert_eq!(
            mixed.to_text(),
            "Error: Deletion of some consumer groups failed:\n\
             * Group 'busy' could not be deleted due to: Group 'busy' is not empty. (NON_EMPTY_GROUP)\n\
             * Group 'gone' could not be deleted due to: Group 'gone' does not exist. (GROUP_ID_NOT_FOUND)\n\
             \nThese consumer groups were deleted successfully: 'a'\n"
        );
    }
}
