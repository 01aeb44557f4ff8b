//! Ordering: a producer's acknowledged writes to one partition get increasing offsets in `seq` order.

use std::collections::BTreeMap;

use super::anomaly::{Anomaly, AnomalyKind};
use crate::history::History;

/// One `Reordered` anomaly per `(producer, partition)` whose acked offsets do not strictly increase
/// with `seq`, naming the first inversion and how many adjacent pairs are inverted.
pub(super) fn check(history: &History) -> Vec<Anomaly> {
    let mut acked: BTreeMap<(u32, i32), Vec<(u64, i64)>> = BTreeMap::new();
    for write in &history.writes {
        if let Some(offset) = write.acked_offset() {
            acked.entry((write.producer, write.partition)).or_default().push((write.seq, offset));
        }
    }
    let mut anomalies = Vec::new();
    for ((producer, partition), mut sends) in acked {
        sends.sort_unstable();
        let mut inversions = sends.windows(2).filter(|pair| pair[1].1 <= pair[0].1);
        let Some(first) = inversions.next() else { continue };
        let (before, after) = (first[0], first[1]);
        let count = 1 + inversions.count();
        anomalies.push(Anomaly::new(
            AnomalyKind::Reordered,
            partition,
            format!(
                "producer {producer}: seq {} acknowledged at offset {} after seq {} at offset {} \
                 ({count} inversion(s) among {} acknowledged writes)",
                after.0,
                after.1,
                before.0,
                before.1,
                sends.len()
            ),
        ));
    }
    anomalies
}
