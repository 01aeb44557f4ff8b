//! Failed writes: a value whose write definitely failed must never be observed.

use super::anomaly::{Anomaly, AnomalyKind};
use super::durability::describe;
use super::index::Index;
use super::offsets_text;
use crate::history::{History, WriteOutcome};

/// One `ReadOfFailedWrite` per failed value observed by a consumer or in the final read.
pub(super) fn check(history: &History, index: &Index<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for write in history.writes.iter().filter(|w| index.is_first(w)) {
        let WriteOutcome::Failed { error } = &write.outcome else { continue };
        let key = (write.partition, write.value.as_str());
        let mut seen = Vec::new();
        if let Some(offsets) = index.read_offsets.get(&key) {
            seen.push(format!("read by consumers at offset {}", offsets_text(offsets)));
        }
        if let Some(offsets) = index.final_offsets.get(&key) {
            seen.push(format!("in the final read at offset {}", offsets_text(offsets)));
        }
        if !seen.is_empty() {
            anomalies.push(Anomaly::new(
                AnomalyKind::ReadOfFailedWrite,
                write.partition,
                format!("{} failed with {error:?} but was {}", describe(write), seen.join(" and ")),
            ));
        }
    }
    anomalies
}
