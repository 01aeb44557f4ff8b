//! The data-loss ledger: a replica that truncated its log to follow a leader reports what it
//! discarded; when an unclean election happened after the discarded records were written (a leader
//! epoch begun by an unclean election, later than the discarded records' epoch and no later than the
//! epoch being followed), the loss is recorded. Truncations of tails that clean elections never
//! committed are not data loss and record nothing.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OpError;
use crate::error_code::ErrorCode;
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

/// A replica's report that it discarded part of its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruncationReport {
    /// The reporting broker.
    pub broker_id: i32,
    /// Its broker epoch.
    pub broker_epoch: i64,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// Leader epoch of the leader it follows.
    pub leader_epoch: i32,
    /// Latest leader epoch among the discarded batches.
    pub discarded_epoch: i32,
    /// First offset discarded.
    pub start_offset: i64,
    /// One past the last offset discarded.
    pub end_offset: i64,
    /// When the broker truncated (ms since the Unix epoch).
    pub timestamp_ms: i64,
}

/// Records a ledger entry for `report` when an unclean election explains the truncation; nothing
/// otherwise. STALE_BROKER_EPOCH, UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION or INVALID_REQUEST
/// (empty range) for bad reports.
pub fn report_truncation(
    image: &MetadataImage,
    report: &TruncationReport,
) -> Result<Vec<MetadataRecord>, OpError> {
    if image.broker(report.broker_id).map(|b| b.broker_epoch) != Some(report.broker_epoch) {
        return Err(OpError::new(
            ErrorCode::StaleBrokerEpoch,
            format!("broker {} epoch is stale", report.broker_id),
        ));
    }
    let topic = image.topic_by_id(report.topic_id).ok_or_else(|| {
        OpError::new(ErrorCode::UnknownTopicId, format!("unknown topic id {}", report.topic_id))
    })?;
    if !topic.partitions.contains_key(&report.partition) {
        return Err(OpError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("{}-{}", topic.name, report.partition),
        ));
    }
    if report.start_offset < 0 || report.end_offset <= report.start_offset {
        return Err(OpError::new(ErrorCode::InvalidRequest, "empty truncation range"));
    }
    let unclean = topic.unclean_epochs.get(&report.partition).and_then(|epochs| {
        epochs.iter().copied().find(|e| *e > report.discarded_epoch && *e <= report.leader_epoch)
    });
    let Some(unclean_epoch) = unclean else { return Ok(Vec::new()) };
    Ok(vec![MetadataRecord::DataLoss {
        topic_id: report.topic_id,
        partition: report.partition,
        leader_epoch: report.leader_epoch,
        unclean_epoch,
        broker_id: report.broker_id,
        start_offset: report.start_offset,
        end_offset: report.end_offset,
        timestamp_ms: report.timestamp_ms,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::image::LeaderRecoveryState;

    fn image() -> (MetadataImage, Uuid) {
        let mut image = super::super::test_support::with_brokers(1..=2);
        let topic_id = Uuid::from_u128(9);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2],
            isr: vec![1],
            leader: 1,
            leader_epoch: 3,
            partition_epoch: 3,
        });
        (image, topic_id)
    }

    fn report(
        image: &MetadataImage,
        topic_id: Uuid,
        discarded_epoch: i32,
        leader_epoch: i32,
    ) -> TruncationReport {
        TruncationReport {
            broker_id: 1,
            broker_epoch: image.broker(1).map_or(-1, |b| b.broker_epoch),
            topic_id,
            partition: 0,
            leader_epoch,
            discarded_epoch,
            start_offset: 100,
            end_offset: 120,
            timestamp_ms: 5,
        }
    }

    #[test]
    fn only_truncations_explained_by_an_unclean_election_are_recorded() {
        let (mut image, topic_id) = image();
        assert!(report_truncation(&image, &report(&image, topic_id, 3, 4)).expect("clean").is_empty());
        image.replay(&MetadataRecord::PartitionChange {
            topic_id,
            partition: 0,
            leader: 2,
            isr: vec![2],
            leader_epoch: 4,
            partition_epoch: 4,
            leader_recovery_state: LeaderRecoveryState::Recovering,
        });
        let records = report_truncation(&image, &report(&image, topic_id, 3, 4)).expect("unclean");
        assert_eq!(records.len(), 1);
        image.replay(&records[0]);
        let entry = &image.topic("t").expect("t").data_loss[0];
        assert_eq!(
            (entry.start_offset, entry.end_offset, entry.unclean_epoch, entry.broker_id),
            (100, 120, 4, 1)
        );
        assert!(report_truncation(&image, &report(&image, topic_id, 4, 5)).expect("later").is_empty());
    }

    #[test]
    fn bad_reports_get_error_codes() {
        let (image, topic_id) = image();
        let good = report(&image, topic_id, 3, 4);
        let code =
            |r: &TruncationReport| report_truncation(&image, r).map_or_else(|e| e.code, |_| ErrorCode::None);
        assert_eq!(code(&TruncationReport { broker_epoch: 99, ..good.clone() }), ErrorCode::StaleBrokerEpoch);
        assert_eq!(
            code(&TruncationReport { topic_id: Uuid::nil(), ..good.clone() }),
            ErrorCode::UnknownTopicId
        );
        assert_eq!(
            code(&TruncationReport { partition: 7, ..good.clone() }),
            ErrorCode::UnknownTopicOrPartition
        );
        assert_eq!(code(&TruncationReport { end_offset: 100, ..good }), ErrorCode::InvalidRequest);
    }
}
