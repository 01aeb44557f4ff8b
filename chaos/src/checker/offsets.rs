//! Offsets: a value lives at one offset, and an offset holds one value, across every observation
//! (consumer reads and the final read; acknowledgements are checked by `durability`).

use std::collections::BTreeSet;

use super::anomaly::{Anomaly, AnomalyKind};
use super::index::{Index, Key};
use super::offsets_text;

/// One `Duplicate` per value observed at more than one offset.
pub(super) fn duplicates(index: &Index<'_>) -> Vec<Anomaly> {
    let keys: BTreeSet<&Key<'_>> = index.read_offsets.keys().chain(index.final_offsets.keys()).collect();
    let mut anomalies = Vec::new();
    for key in keys {
        let in_final = index.final_offsets.get(key);
        let everywhere: BTreeSet<i64> =
            index.read_offsets.get(key).into_iter().chain(in_final).flatten().copied().collect();
        if everywhere.len() < 2 {
            continue;
        }
        let in_final = match in_final {
            Some(offsets) => format!("final read: {}", offsets_text(offsets)),
            None => "not in the final read".to_owned(),
        };
        let (partition, value) = key;
        anomalies.push(Anomaly::new(
            AnomalyKind::Duplicate,
            *partition,
            format!("value {value:?} observed at offsets {} ({in_final})", offsets_text(&everywhere)),
        ));
    }
    anomalies
}

/// One `InconsistentOffset` per `(partition, offset)` observed holding more than one value.
pub(super) fn inconsistent(index: &Index<'_>) -> Vec<Anomaly> {
    index
        .values_at
        .iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|((partition, offset), values)| {
            Anomaly::new(
                AnomalyKind::InconsistentOffset,
                *partition,
                format!("offset {offset} observed holding values {values:?}"),
            )
        })
        .collect()
}
