//! Durability: acknowledged (or consumed) writes must be in the final read, at their acked offset.
//!
//! Also resolves writes whose outcome was unknown: recovered if observed anywhere, absent otherwise.

use super::anomaly::{Anomaly, AnomalyKind};
use super::index::Index;
use super::offsets_text;
use crate::history::{History, Write, WriteOutcome};

/// What the durability check found.
pub(super) struct Durability {
    pub anomalies: Vec<Anomaly>,
    /// Unknown writes observed by a consumer or in the final read.
    pub unknown_recovered: usize,
    /// Unknown writes never observed.
    pub unknown_absent: usize,
}

/// Checks every first write of a value against the final read of its partition.
///
/// Partitions without a final read are skipped (the caller reports them as unchecked). A write whose
/// outcome was unknown but that a consumer read is held to the same standard as an acknowledged one:
/// consumers only see records below the high watermark, which must never be lost.
pub(super) fn check(history: &History, index: &Index<'_>) -> Durability {
    let mut found = Durability { anomalies: Vec::new(), unknown_recovered: 0, unknown_absent: 0 };
    for write in history.writes.iter().filter(|w| index.is_first(w)) {
        let key = (write.partition, write.value.as_str());
        let checked = index.final_partitions.contains(&write.partition);
        let in_final = index.final_offsets.get(&key);
        match &write.outcome {
            WriteOutcome::Ok { offset } if checked => match in_final {
                None => {
                    let how = if *offset >= 0 {
                        format!("acknowledged at offset {offset}")
                    } else {
                        "acknowledged without an offset".to_owned()
                    };
                    found.anomalies.push(lost(write, index, &how));
                }
                Some(offsets) if *offset >= 0 && !offsets.contains(offset) => {
                    found.anomalies.push(Anomaly::new(
                        AnomalyKind::WrongOffset,
                        write.partition,
                        format!(
                            "{} acknowledged at offset {offset} is at offset {} in the final read",
                            describe(write),
                            offsets_text(offsets)
                        ),
                    ))
                }
                Some(_) => {}
            },
            WriteOutcome::Ok { .. } | WriteOutcome::Failed { .. } => {}
            WriteOutcome::Unknown { .. } => {
                if index.observed(&key) {
                    found.unknown_recovered += 1;
                } else {
                    found.unknown_absent += 1;
                }
                if checked && in_final.is_none() && index.read_offsets.contains_key(&key) {
                    found.anomalies.push(lost(write, index, "with unknown outcome"));
                }
            }
        }
    }
    found
}

fn lost(write: &Write, index: &Index<'_>, how: &str) -> Anomaly {
    let key = (write.partition, write.value.as_str());
    let read = match index.read_offsets.get(&key) {
        Some(offsets) => format!(", though consumers read it at offset {}", offsets_text(offsets)),
        None => String::new(),
    };
    Anomaly::new(
        AnomalyKind::LostWrite,
        write.partition,
        format!(
            "{} {how} (done at {} ms) is absent from the final read{read}",
            describe(write),
            write.end_ms
        ),
    )
}

/// `value "v" (producer 1, seq 4)`.
pub(super) fn describe(write: &Write) -> String {
    format!("value {:?} (producer {}, seq {})", write.value, write.producer, write.seq)
}
