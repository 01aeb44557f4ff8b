//! Committed consumer offsets as records: the group coordinator keeps membership in memory, the
//! controller quorum keeps the offsets, so they survive the coordinator.

use super::OpError;
use crate::error_code::ErrorCode;
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

/// Kafka's default `offset.metadata.max.bytes`.
pub const DEFAULT_OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// One partition of an OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OffsetCommitEntry {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Leader epoch of the committed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata (`None` is stored as empty).
    pub metadata: Option<String>,
}

/// OffsetCommit for one group at `now_ms`: a record per accepted partition, and an error code per
/// entry (in request order): `UNKNOWN_TOPIC_OR_PARTITION` for partitions that do not exist,
/// `OFFSET_METADATA_TOO_LARGE` for metadata over `max_metadata_bytes`. An empty group id rejects the
/// whole request (`INVALID_GROUP_ID`).
pub fn commit_offsets(
    image: &MetadataImage,
    group: &str,
    offsets: &[OffsetCommitEntry],
    now_ms: i64,
    max_metadata_bytes: usize,
) -> Result<(Vec<MetadataRecord>, Vec<ErrorCode>), OpError> {
    if group.is_empty() {
        return Err(OpError::new(ErrorCode::InvalidGroupId, "group id must not be empty"));
    }
    let mut records = Vec::new();
    let mut errors = Vec::with_capacity(offsets.len());
    for entry in offsets {
        let exists = image.topic(&entry.topic).is_some_and(|t| t.partitions.contains_key(&entry.partition));
        let metadata = entry.metadata.clone().unwrap_or_default();
        let code = if !exists {
            ErrorCode::UnknownTopicOrPartition
        } else if metadata.len() > max_metadata_bytes {
            ErrorCode::OffsetMetadataTooLarge
        } else {
            records.push(MetadataRecord::OffsetCommit {
                group: group.to_owned(),
                topic: entry.topic.clone(),
                partition: entry.partition,
                offset: entry.offset,
                leader_epoch: entry.leader_epoch,
                metadata,
                commit_timestamp_ms: now_ms,
            });
            ErrorCode::None
        };
        errors.push(code);
    }
    Ok((records, errors))
}

/// Records deleting `group`'s committed offsets for `partitions` (`None`: all of them). Offsets that
/// do not exist are skipped, so the result may be empty.
pub fn delete_offsets(
    image: &MetadataImage,
    group: &str,
    partitions: Option<&[(String, i32)]>,
) -> Vec<MetadataRecord> {
    let Some(offsets) = image.group_offsets(group) else { return Vec::new() };
    match partitions {
        None => vec![MetadataRecord::OffsetDelete { group: group.to_owned(), topic: None, partition: 0 }],
        Some(partitions) => partitions
            .iter()
            .filter(|(topic, p)| offsets.get(topic).is_some_and(|parts| parts.contains_key(p)))
            .map(|(topic, p)| MetadataRecord::OffsetDelete {
                group: group.to_owned(),
                topic: Some(topic.clone()),
                partition: *p,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn entry(topic: &str, partition: i32, offset: i64, metadata: &str) -> OffsetCommitEntry {
        OffsetCommitEntry {
            topic: topic.into(),
            partition,
            offset,
            leader_epoch: 3,
            metadata: Some(metadata.into()),
        }
    }

    #[test]
    fn commits_known_partitions_and_drops_them_with_the_topic() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::from_u128(1);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        });
        let request =
            [entry("t", 0, 42, "m"), entry("t", 1, 1, ""), entry("u", 0, 1, ""), entry("t", 0, 43, "xx")];
        let (records, errors) = commit_offsets(&image, "g", &request, 1000, 1).expect("commit");
        assert_eq!(
            errors,
            vec![
                ErrorCode::None,
                ErrorCode::UnknownTopicOrPartition,
                ErrorCode::UnknownTopicOrPartition,
                ErrorCode::OffsetMetadataTooLarge
            ]
        );
        for r in &records {
            image.replay(r);
        }
        let committed = image.committed_offset("g", "t", 0).expect("committed");
        assert_eq!((committed.offset, committed.leader_epoch, committed.commit_timestamp_ms), (42, 3, 1000));
        assert_eq!(image.groups().collect::<Vec<_>>(), vec!["g"]);
        image.replay(&MetadataRecord::RemoveTopic { topic_id });
        assert!(image.committed_offset("g", "t", 0).is_none());
        assert_eq!(image.groups().count(), 0);
        assert_eq!(commit_offsets(&image, "", &[], 0, 10).unwrap_err().code, ErrorCode::InvalidGroupId);
    }

    #[test]
    fn deletes_named_partitions_or_the_whole_group() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::from_u128(1);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        for p in 0..2 {
            image.replay(&MetadataRecord::Partition {
                topic_id,
                partition: p,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            });
        }
        let (records, _) = commit_offsets(&image, "g", &[entry("t", 0, 5, ""), entry("t", 1, 6, "")], 1, 100)
            .expect("commit");
        for r in &records {
            image.replay(r);
        }
        let one = delete_offsets(&image, "g", Some(&[("t".into(), 0), ("t".into(), 9)]));
        assert_eq!(one.len(), 1, "only existing offsets: {one:?}");
        image.replay(&one[0]);
        assert!(image.committed_offset("g", "t", 0).is_none());
        assert_eq!(image.committed_offset("g", "t", 1).map(|c| c.offset), Some(6));
        for r in delete_offsets(&image, "g", None) {
            image.replay(&r);
        }
        assert_eq!(image.groups().count(), 0);
        assert!(delete_offsets(&image, "g", None).is_empty(), "nothing left to delete");
    }
}
