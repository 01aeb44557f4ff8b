//! Consumers: a consumer's reads of a partition move forward unless its position was reset.

use std::collections::HashMap;

use super::anomaly::{Anomaly, AnomalyKind};
use crate::history::{ConsumerRecord, History};

/// One `ConsumerWentBack` per read at an offset not above the consumer's previous read of that
/// partition, when no `Assigned`, `Revoked` or `Seek` event for the partition came in between.
///
/// Follows the consumer log in append order (never `time_ms`); each read becomes the new position, so
/// one jump back is reported once.
pub(super) fn check(history: &History) -> Vec<Anomaly> {
    let mut last: HashMap<(&str, i32), i64> = HashMap::new();
    let mut anomalies = Vec::new();
    for record in &history.consumer_log {
        match record {
            ConsumerRecord::Event(event) => {
                last.retain(|(consumer, partition), _| {
                    *consumer != event.consumer.as_str() || !event.kind.resets(*partition)
                });
            }
            ConsumerRecord::Read(read) => {
                let position = (read.consumer.as_str(), read.partition);
                if let Some(&previous) = last.get(&position)
                    && read.offset <= previous
                {
                    anomalies.push(Anomaly::new(
                        AnomalyKind::ConsumerWentBack,
                        read.partition,
                        format!(
                            "consumer {:?} read offset {} at {} ms after offset {previous}, with no \
                             assignment change or seek in between",
                            read.consumer, read.offset, read.time_ms
                        ),
                    ));
                }
                last.insert(position, read.offset);
            }
        }
    }
    anomalies
}
