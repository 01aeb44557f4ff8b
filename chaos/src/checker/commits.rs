//! Committed offsets: a group's committed offset for a partition never moves back.

use std::collections::BTreeMap;

use super::anomaly::{Anomaly, AnomalyKind};
use crate::history::{CommittedOffset, History};

/// One `CommitWentBack` per observation lower than the previous observation of the same
/// `(group, partition)`, in `time_ms` order (ties in recording order).
pub(super) fn check(history: &History) -> Vec<Anomaly> {
    let mut observations: Vec<&CommittedOffset> = history.committed_offsets.iter().collect();
    observations.sort_by_key(|c| c.time_ms);
    let mut previous: BTreeMap<(&str, i32), &CommittedOffset> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for current in observations {
        let key = (current.group.as_str(), current.partition);
        if let Some(before) = previous.get(&key)
            && current.offset < before.offset
        {
            anomalies.push(Anomaly::new(
                AnomalyKind::CommitWentBack,
                current.partition,
                format!(
                    "group {:?} committed offset observed {} at {} ms after {} at {} ms",
                    current.group, current.offset, current.time_ms, before.offset, before.time_ms
                ),
            ));
        }
        previous.insert(key, current);
    }
    anomalies
}
