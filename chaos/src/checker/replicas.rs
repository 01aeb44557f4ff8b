//! Replicas: the runner's replica comparisons after healing.

use super::anomaly::{Anomaly, AnomalyKind};
use crate::history::History;

/// One `ReplicaDivergence` per replica check that is not identical up to the high watermark.
pub(super) fn check(history: &History) -> Vec<Anomaly> {
    history
        .replica_checks
        .iter()
        .filter(|check| !check.identical_up_to_hw)
        .map(|check| Anomaly::new(AnomalyKind::ReplicaDivergence, check.partition, check.detail.clone()))
        .collect()
}
