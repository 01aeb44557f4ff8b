//! Partition reassignment (Kafka's AlterPartitionReassignments, KIP-455): moving a partition to a new
//! replica set without stopping clients.
//!
//! 1. Start: replicas become target ∪ current (target first), with `adding` = target − current and
//!    `removing` = current − target. The added brokers open the partition and fetch from the leader.
//! 2. The leader adds each new replica to the ISR once it has caught up (AlterPartition).
//! 3. Complete (in the same decision as the ISR change that made every added replica in sync): replicas
//!    become the target, removed replicas leave the ISR, and a leader being removed hands over to the
//!    first in-sync target replica. The removed brokers then delete their copies.
//!
//! Cancelling reverts to the original replicas. A target that only removes replicas completes at once.

use uuid::Uuid;

use super::OpError;
use super::election::PartitionChange;
use crate::error_code::ErrorCode;
use crate::metadata::image::{MetadataImage, PartitionImage};
use crate::metadata::records::MetadataRecord;

fn err(code: ErrorCode, message: impl Into<String>) -> OpError {
    OpError::new(code, message)
}

/// The replicas before the reassignment in progress (or the replicas when none is).
fn original_replicas(p: &PartitionImage) -> Vec<i32> {
    p.replicas.iter().copied().filter(|r| !p.adding_replicas.contains(r)).collect()
}

/// Starts (or replaces) a reassignment of `topic`-`partition` to `target`, or cancels the one in
/// progress when `target` is `None`. Errors: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT for
/// an empty target, duplicates, unregistered brokers, or a target with no in-sync replica that adds
/// nobody; NO_REASSIGNMENT_IN_PROGRESS when cancelling nothing.
pub fn alter_reassignment(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> Result<Vec<MetadataRecord>, OpError> {
    let topic_image = image
        .topic(topic)
        .ok_or_else(|| err(ErrorCode::UnknownTopicOrPartition, format!("topic '{topic}' does not exist")))?;
    let current = topic_image.partitions.get(&partition).ok_or_else(|| {
        err(ErrorCode::UnknownTopicOrPartition, format!("{topic}-{partition} does not exist"))
    })?;
    let topic_id = topic_image.topic_id;
    let original = original_replicas(current);
    let target = match target {
        Some(target) => target.to_vec(),
        None if !current.is_reassigning() => {
            return Err(err(
                ErrorCode::NoReassignmentInProgress,
                format!("{topic}-{partition} is not reassigning"),
            ));
        }
        None => original.clone(),
    };
    let mut distinct = target.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if target.is_empty() || distinct.len() != target.len() {
        return Err(err(
            ErrorCode::InvalidReplicaAssignment,
            "the target replicas are empty or repeat a broker",
        ));
    }
    if let Some(b) = target.iter().find(|b| image.broker(**b).is_none()) {
        return Err(err(ErrorCode::InvalidReplicaAssignment, format!("broker {b} is not registered")));
    }
    let adding: Vec<i32> = target.iter().copied().filter(|r| !original.contains(r)).collect();
    let removing: Vec<i32> = original.iter().copied().filter(|r| !target.contains(r)).collect();
    if adding.is_empty() {
        if !current.isr.iter().any(|r| target.contains(r)) {
            return Err(err(ErrorCode::InvalidReplicaAssignment, "no replica of the target is in sync"));
        }
        return Ok(complete(image, topic_id, partition, current, &target));
    }
    let mut replicas = target.clone();
    replicas.extend(removing.iter().copied());
    Ok(vec![MetadataRecord::PartitionReassignment {
        topic_id,
        partition,
        replicas,
        adding_replicas: adding,
        removing_replicas: removing,
        partition_epoch: current.partition_epoch + 1,
    }])
}

/// Records that finish moving `current` to `target`: the replica set, then (if the ISR or the leader
/// must change) a partition change electing from the in-sync target replicas.
pub fn complete(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    current: &PartitionImage,
    target: &[i32],
) -> Vec<MetadataRecord> {
    let partition_epoch = current.partition_epoch + 1;
    let mut records = vec![MetadataRecord::PartitionReassignment {
        topic_id,
        partition,
        replicas: target.to_vec(),
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
        partition_epoch,
    }];
    let mut moved = current.clone();
    moved.apply(&records[0]);
    let isr: Vec<i32> = current.isr.iter().copied().filter(|r| target.contains(r)).collect();
    let isr = if isr.is_empty() { current.isr.clone() } else { isr };
    let eligible = |r: i32| target.contains(&r) && image.is_active(r);
    records.extend(PartitionChange::new(&moved).with_isr(isr).build(topic_id, partition, eligible));
    records
}

/// After an ISR change to `after`: the records completing its reassignment if every added replica is
/// now in sync (none otherwise).
pub fn complete_if_caught_up(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: i32,
    after: &PartitionImage,
) -> Vec<MetadataRecord> {
    if after.adding_replicas.is_empty() || !after.adding_replicas.iter().all(|r| after.isr.contains(r)) {
        return Vec::new();
    }
    complete(image, topic_id, partition, after, &after.target_replicas())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ops::{AlterPartitionRequest, alter_partition};

    fn setup() -> (MetadataImage, Uuid) {
        let mut image = super::super::test_support::with_brokers(1..=4);
        let topic_id = Uuid::from_u128(7);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        });
        (image, topic_id)
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.replay(r);
        }
    }

    fn expand(image: &mut MetadataImage, topic_id: Uuid, isr: &[i32]) {
        let p = image.partition(topic_id, 0).expect("p0").clone();
        let request = AlterPartitionRequest {
            broker_id: p.leader,
            broker_epoch: image.broker(p.leader).expect("leader").broker_epoch,
            topic_id,
            partition: 0,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr: isr.to_vec(),
            leader_recovery_state: p.leader_recovery_state,
        };
        let (records, _) = alter_partition(image, &request).expect("alter partition");
        apply(image, &records);
    }

    #[test]
    fn moving_the_leaders_partition_to_a_new_broker_completes_once_it_is_in_sync() {
        let (mut image, topic_id) = setup();
        let records = alter_reassignment(&image, "t", 0, Some(&[2, 3, 4])).expect("start");
        apply(&mut image, &records);
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!(
            (p.replicas.clone(), p.adding_replicas.clone(), p.removing_replicas.clone()),
            (vec![2, 3, 4, 1], vec![4], vec![1])
        );
        assert_eq!((p.leader, p.partition_epoch), (1, 1), "the leader keeps serving meanwhile");

        expand(&mut image, topic_id, &[1, 2, 3, 4]);
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!(p.replicas, vec![2, 3, 4]);
        assert!(!p.is_reassigning());
        assert_eq!(p.isr, vec![2, 3, 4]);
        assert_eq!((p.leader, p.leader_epoch), (2, 1), "the removed leader handed over");
    }

    #[test]
    fn cancel_reverts_and_shrinking_completes_at_once() {
        let (mut image, topic_id) = setup();
        let records = alter_reassignment(&image, "t", 0, Some(&[1, 2, 4])).expect("start");
        apply(&mut image, &records);
        let records = alter_reassignment(&image, "t", 0, None).expect("cancel");
        apply(&mut image, &records);
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.replicas.clone(), p.is_reassigning()), (vec![1, 2, 3], false));
        let code = alter_reassignment(&image, "t", 0, None).map_or_else(|e| e.code, |_| ErrorCode::None);
        assert_eq!(code, ErrorCode::NoReassignmentInProgress);

        let records = alter_reassignment(&image, "t", 0, Some(&[2, 3])).expect("shrink");
        apply(&mut image, &records);
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.replicas.clone(), p.isr.clone(), p.leader), (vec![2, 3], vec![2, 3], 2));
    }

    #[test]
    fn invalid_targets_are_refused() {
        let (image, _) = setup();
        let code = |t: Option<&[i32]>, topic: &str| {
            alter_reassignment(&image, topic, 0, t).map_or_else(|e| e.code, |_| ErrorCode::None)
        };
        assert_eq!(code(Some(&[]), "t"), ErrorCode::InvalidReplicaAssignment);
        assert_eq!(code(Some(&[1, 1]), "t"), ErrorCode::InvalidReplicaAssignment);
        assert_eq!(code(Some(&[1, 9]), "t"), ErrorCode::InvalidReplicaAssignment);
        assert_eq!(code(Some(&[1]), "missing"), ErrorCode::UnknownTopicOrPartition);
    }
}
