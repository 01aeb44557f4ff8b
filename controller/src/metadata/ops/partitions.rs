//! AlterPartition: a partition leader asks to shrink or expand its ISR (or reports that an uncleanly
//! elected leader has recovered). Fenced by broker epoch, leader epoch and partition epoch, so a stale
//! or repeated request can never undo a newer change.

use uuid::Uuid;

use super::OpError;
use super::election::PartitionChange;
use crate::error_code::ErrorCode;
use crate::metadata::image::{LeaderRecoveryState, MetadataImage, PartitionImage};
use crate::metadata::records::MetadataRecord;

/// One partition of an AlterPartition request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlterPartitionRequest {
    /// The sender, which must be the partition's leader.
    pub broker_id: i32,
    /// The sender's broker epoch (from its registration).
    pub broker_epoch: i64,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub partition: i32,
    /// The leader epoch the sender leads in.
    pub leader_epoch: i32,
    /// The partition epoch the sender last saw.
    pub partition_epoch: i32,
    /// Proposed ISR.
    pub new_isr: Vec<i32>,
    /// Proposed leader recovery state.
    pub leader_recovery_state: LeaderRecoveryState,
}

/// A partition's state as returned in the AlterPartition response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionState {
    /// Leader id.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Partition epoch.
    pub partition_epoch: i32,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Leader recovery state.
    pub leader_recovery_state: LeaderRecoveryState,
}

impl From<&PartitionImage> for PartitionState {
    fn from(p: &PartitionImage) -> Self {
        Self {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr: p.isr.clone(),
            leader_recovery_state: p.leader_recovery_state,
        }
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> OpError {
    OpError::new(code, message)
}

/// Checks, in Kafka's order: broker epoch (`STALE_BROKER_EPOCH`), topic and partition
/// (`UNKNOWN_TOPIC_ID` / `UNKNOWN_TOPIC_OR_PARTITION`), sender is the leader (`NOT_LEADER_OR_FOLLOWER`),
/// leader epoch (`FENCED_LEADER_EPOCH`), partition epoch (`INVALID_UPDATE_VERSION`).
fn check_fencing<'a>(
    image: &'a MetadataImage,
    request: &AlterPartitionRequest,
) -> Result<&'a PartitionImage, OpError> {
    let broker_epoch = image.broker(request.broker_id).map(|b| b.broker_epoch);
    if broker_epoch != Some(request.broker_epoch) {
        return Err(err(
            ErrorCode::StaleBrokerEpoch,
            format!("broker {} epoch {} is not registered", request.broker_id, request.broker_epoch),
        ));
    }
    let topic = image
        .topic_by_id(request.topic_id)
        .ok_or_else(|| err(ErrorCode::UnknownTopicId, format!("unknown topic id {}", request.topic_id)))?;
    let partition = topic.partitions.get(&request.partition).ok_or_else(|| {
        err(
            ErrorCode::UnknownTopicOrPartition,
            format!("{}-{} does not exist", topic.name, request.partition),
        )
    })?;
    if partition.leader != request.broker_id {
        return Err(err(
            ErrorCode::NotLeaderOrFollower,
            format!("broker {} is not the leader (leader is {})", request.broker_id, partition.leader),
        ));
    }
    if request.leader_epoch != partition.leader_epoch {
        return Err(err(
            ErrorCode::FencedLeaderEpoch,
            format!("leader epoch {} is not the current {}", request.leader_epoch, partition.leader_epoch),
        ));
    }
    if request.partition_epoch != partition.partition_epoch {
        return Err(err(
            ErrorCode::InvalidUpdateVersion,
            format!(
                "partition epoch {} is not the current {}",
                request.partition_epoch, partition.partition_epoch
            ),
        ));
    }
    Ok(partition)
}

/// Checks the proposed ISR and recovery state: non-empty, no duplicates, replicas only, holds the
/// leader (`INVALID_REQUEST`); every member registered, unfenced and not shutting down
/// (`INELIGIBLE_REPLICA`); no return to `Recovering`, and only the leader in the ISR while recovering
/// (`INVALID_REQUEST`).
fn check_isr(
    image: &MetadataImage,
    partition: &PartitionImage,
    request: &AlterPartitionRequest,
) -> Result<(), OpError> {
    let isr = &request.new_isr;
    let mut distinct = isr.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if isr.is_empty() || distinct.len() != isr.len() {
        return Err(err(ErrorCode::InvalidRequest, "the new ISR is empty or has duplicates"));
    }
    if let Some(r) = isr.iter().find(|r| !partition.replicas.contains(r)) {
        return Err(err(ErrorCode::InvalidRequest, format!("broker {r} in the new ISR is not a replica")));
    }
    if !isr.contains(&request.broker_id) {
        return Err(err(ErrorCode::InvalidRequest, "the new ISR does not contain the leader"));
    }
    if let Some(r) = isr.iter().find(|r| !image.is_active(**r)) {
        return Err(err(
            ErrorCode::IneligibleReplica,
            format!("broker {r} in the new ISR is fenced, shutting down or not registered"),
        ));
    }
    let recovering = LeaderRecoveryState::Recovering;
    if request.leader_recovery_state == recovering && partition.leader_recovery_state != recovering {
        return Err(err(ErrorCode::InvalidRequest, "a recovered partition cannot return to recovering"));
    }
    if request.leader_recovery_state == recovering && isr.len() > 1 {
        return Err(err(ErrorCode::InvalidRequest, "a recovering partition's ISR is its leader alone"));
    }
    Ok(())
}

/// AlterPartition for one partition. On success returns the change record (partition epoch + 1; none
/// when nothing changes) and the partition's new state for the response.
pub fn alter_partition(
    image: &MetadataImage,
    request: &AlterPartitionRequest,
) -> Result<(Vec<MetadataRecord>, PartitionState), OpError> {
    let partition = check_fencing(image, request)?;
    check_isr(image, partition, request)?;
    let change = PartitionChange::new(partition)
        .with_isr(request.new_isr.clone())
        .with_recovery_state(request.leader_recovery_state);
    let mut records: Vec<MetadataRecord> =
        change.build(request.topic_id, request.partition, |r| image.is_active(r)).into_iter().collect();
    let mut after = partition.clone();
    records.iter().for_each(|r| after.apply(r));
    let completion =
        super::reassignment::complete_if_caught_up(image, request.topic_id, request.partition, &after);
    completion.iter().for_each(|r| after.apply(r));
    records.extend(completion);
    Ok((records, PartitionState::from(&after)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::ops::{fence_broker, unfence_broker};

    fn setup() -> (MetadataImage, Uuid) {
        let mut image = super::super::test_support::with_brokers(1..=3);
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

    fn request(image: &MetadataImage, topic_id: Uuid, new_isr: &[i32]) -> AlterPartitionRequest {
        let p = image.partition(topic_id, 0).expect("p0");
        AlterPartitionRequest {
            broker_id: p.leader,
            broker_epoch: image.broker(p.leader).map_or(-1, |b| b.broker_epoch),
            topic_id,
            partition: 0,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            new_isr: new_isr.to_vec(),
            leader_recovery_state: p.leader_recovery_state,
        }
    }

    fn code(image: &MetadataImage, request: &AlterPartitionRequest) -> ErrorCode {
        alter_partition(image, request).map_or_else(|e| e.code, |_| ErrorCode::None)
    }

    #[test]
    fn shrink_then_expand_bumps_partition_epoch() {
        let (mut image, topic_id) = setup();
        let (records, state) = alter_partition(&image, &request(&image, topic_id, &[1, 2])).expect("shrink");
        assert_eq!((state.isr.clone(), state.partition_epoch, state.leader_epoch), (vec![1, 2], 1, 0));
        for r in &records {
            image.replay(r);
        }
        assert_eq!(PartitionState::from(image.partition(topic_id, 0).expect("p0")), state);
        let (records, state) = alter_partition(&image, &request(&image, topic_id, &[1, 2])).expect("same");
        assert!(records.is_empty());
        assert_eq!(state.partition_epoch, 1);
    }

    #[test]
    fn rejects_stale_and_invalid_requests() {
        let (mut image, topic_id) = setup();
        let good = request(&image, topic_id, &[1, 2]);
        for r in alter_partition(&image, &good).expect("ok").0 {
            image.replay(&r);
        }
        assert_eq!(code(&image, &good), ErrorCode::InvalidUpdateVersion, "replayed request");
        let fresh = request(&image, topic_id, &[1]);
        assert_eq!(
            code(&image, &AlterPartitionRequest { broker_id: 2, broker_epoch: 2, ..fresh.clone() }),
            ErrorCode::NotLeaderOrFollower
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { leader_epoch: -1, ..fresh.clone() }),
            ErrorCode::FencedLeaderEpoch
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { broker_epoch: 0, ..fresh.clone() }),
            ErrorCode::StaleBrokerEpoch
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { new_isr: vec![1, 4], ..fresh.clone() }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { new_isr: vec![2], ..fresh.clone() }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { new_isr: vec![], ..fresh.clone() }),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { partition: 5, ..fresh.clone() }),
            ErrorCode::UnknownTopicOrPartition
        );
        assert_eq!(
            code(&image, &AlterPartitionRequest { topic_id: Uuid::nil(), ..fresh.clone() }),
            ErrorCode::UnknownTopicId
        );
        for r in fence_broker(&image, 3).expect("fence") {
            image.replay(&r);
        }
        let with_fenced = request(&image, topic_id, &[1, 2, 3]);
        assert_eq!(code(&image, &with_fenced), ErrorCode::IneligibleReplica);
    }

    #[test]
    fn recovering_partition_must_recover_before_expanding() {
        let (mut image, topic_id) = setup();
        image.replay(&MetadataRecord::TopicConfig {
            topic: "t".into(),
            name: "unclean.leader.election.enable".into(),
            value: Some("true".into()),
        });
        for r in alter_partition(&image, &request(&image, topic_id, &[1])).expect("shrink").0 {
            image.replay(&r);
        }
        for b in [1, 2] {
            for r in fence_broker(&image, b).expect("fence") {
                image.replay(&r);
            }
        }
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!(
            (p.leader, p.isr.clone(), p.leader_recovery_state),
            (3, vec![3], LeaderRecoveryState::Recovering)
        );
        for r in unfence_broker(&image, 2).expect("unfence") {
            image.replay(&r);
        }
        let expand = request(&image, topic_id, &[3, 2]);
        assert_eq!(code(&image, &expand), ErrorCode::InvalidRequest);
        let recovered = AlterPartitionRequest {
            leader_recovery_state: LeaderRecoveryState::Recovered,
            ..request(&image, topic_id, &[3])
        };
        for r in alter_partition(&image, &recovered).expect("recovered").0 {
            image.replay(&r);
        }
        let expand = AlterPartitionRequest {
            leader_recovery_state: LeaderRecoveryState::Recovered,
            ..request(&image, topic_id, &[3, 2])
        };
        assert_eq!(alter_partition(&image, &expand).expect("expand").1.isr, vec![3, 2]);
    }
}
