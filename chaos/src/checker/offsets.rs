//! Offsets: a value lives at one offset, and an offset holds one value, across every observation
//! (consumer reads and the final read; acknowledgements are checked by `durability`).

use std::collections::{BTreeMap, BTreeSet};

use super::anomaly::{Anomaly, AnomalyKind};
use super::index::{Index, Key};
use super::offsets_text;

/// One `Duplicate` per value observed at more than one offset.
pub(super) fn duplicates(index: &Index<'_>) -> Vec<Anomaly> {
    let mut everywhere: BTreeMap<Key<'_>, BTreeSet<i64>> = index.read_offsets.clone();
    for (key, offsets) in &index.final_offsets {
        everywhere.entry(*key).or_default().extend(offsets);
    }
    everywhere
        .into_iter()
        .filter(|(_, offsets)| offsets.len() > 1)
        .map(|((partition, value), offsets)| {
            let in_final = match index.final_offsets.get(&(partition, value)) {
                Some(final_offsets) => format!("final read: {}", offsets_text(final_offsets)),
                None => "not in the final read".to_owned(),
            };
            Anomaly::new(
                AnomalyKind::Duplicate,
                partition,
                format!("value {value:?} observed at offsets {} ({in_final})", offsets_text(&offsets)),
            )
        })
        .collect()
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
