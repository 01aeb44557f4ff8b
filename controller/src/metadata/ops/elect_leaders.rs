//! ElectLeaders (Kafka API 43): preferred and unclean elections asked for by an operator (or by the
//! controller's own leader rebalancing), one partition at a time, as Kafka's
//! `ReplicationControlManager#electLeaders` decides them.
//!
//! - **Preferred**: the first replica leads if it is in the ISR and active. `ELECTION_NOT_NEEDED` when it
//!   already leads, `PREFERRED_LEADER_NOT_AVAILABLE` when it cannot.
//! - **Unclean**: only for a partition without a leader: an active ISR member, else any active replica
//!   (the ISR becomes that replica alone and the partition is marked `Recovering`).
//!   `ELECTION_NOT_NEEDED` when the partition has a leader, `ELIGIBLE_LEADERS_NOT_AVAILABLE` when no
//!   replica is active.
//!
//! Unknown topics and partitions get `UNKNOWN_TOPIC_OR_PARTITION`. Each partition is decided once per
//! request (a partition named twice is reported once), so no two records in one batch change the same
//! partition.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::OpError;
use super::election::{NO_LEADER, PartitionChange};
use crate::error_code::ErrorCode;
use crate::metadata::image::{MetadataImage, PartitionImage};
use crate::metadata::records::MetadataRecord;

/// Kafka's `ElectionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ElectionType {
    /// Move leadership to the preferred (first) replica.
    Preferred,
    /// Elect a leader for a leaderless partition, from outside the ISR if need be.
    Unclean,
}

impl ElectionType {
    /// The wire value: 0 preferred, 1 unclean.
    pub fn code(self) -> i8 {
        match self {
            Self::Preferred => 0,
            Self::Unclean => 1,
        }
    }

    /// The type for a wire value, `None` for values Kafka does not define.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(Self::Preferred),
            1 => Some(Self::Unclean),
            _ => None,
        }
    }
}

/// The outcome for one topic, in request order (or name order when every partition was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicElection {
    /// Topic name as asked.
    pub topic: String,
    /// Partition index and its outcome, in request order.
    pub partitions: Vec<(i32, Result<(), OpError>)>,
}

/// Decides ElectLeaders. `partitions`: topic → partition indexes, or `None` for every partition of
/// every topic; then, as in Kafka, partitions that need no election are left out of the result (their
/// topic is still listed). Returns the `PartitionChange` records and the per-partition outcomes.
pub fn elect_leaders(
    image: &MetadataImage,
    election_type: ElectionType,
    partitions: Option<&[(String, Vec<i32>)]>,
) -> (Vec<MetadataRecord>, Vec<TopicElection>) {
    let mut records = Vec::new();
    let mut results = Vec::new();
    match partitions {
        None => {
            for topic in image.topics() {
                let mut outcomes = Vec::new();
                for &index in topic.partitions.keys() {
                    let outcome = elect_leader(image, &topic.name, index, election_type, &mut records);
                    if !matches!(&outcome, Err(e) if e.code == ErrorCode::ElectionNotNeeded) {
                        outcomes.push((index, outcome));
                    }
                }
                results.push(TopicElection { topic: topic.name.clone(), partitions: outcomes });
            }
        }
        Some(asked) => {
            let mut seen = BTreeSet::new();
            for (topic, indexes) in asked {
                let mut outcomes = Vec::new();
                for &index in indexes {
                    if seen.insert((topic.as_str(), index)) {
                        outcomes
                            .push((index, elect_leader(image, topic, index, election_type, &mut records)));
                    }
                }
                results.push(TopicElection { topic: topic.clone(), partitions: outcomes });
            }
        }
    }
    (records, results)
}

/// One partition's election; pushes its record on success.
fn elect_leader(
    image: &MetadataImage,
    topic_name: &str,
    index: i32,
    election_type: ElectionType,
    records: &mut Vec<MetadataRecord>,
) -> Result<(), OpError> {
    let topic = image.topic(topic_name).ok_or_else(|| {
        OpError::new(ErrorCode::UnknownTopicOrPartition, format!("no such topic as {topic_name}"))
    })?;
    let partition = topic.partitions.get(&index).ok_or_else(|| {
        OpError::new(ErrorCode::UnknownTopicOrPartition, format!("no such partition as {topic_name}-{index}"))
    })?;
    let change = match election_type {
        ElectionType::Preferred => preferred(image, partition)?,
        ElectionType::Unclean => unclean(partition)?,
    };
    let Some(record) = change.build(topic.topic_id, index, |r| image.is_active(r)) else {
        return Err(not_available(election_type, topic_name, index));
    };
    if matches!(&record, MetadataRecord::PartitionChange { leader, .. } if *leader == NO_LEADER) {
        return Err(not_available(election_type, topic_name, index));
    }
    records.push(record);
    Ok(())
}

/// The change of a preferred election, or ELECTION_NOT_NEEDED / PREFERRED_LEADER_NOT_AVAILABLE.
fn preferred<'a>(
    image: &MetadataImage,
    partition: &'a PartitionImage,
) -> Result<PartitionChange<'a>, OpError> {
    let Some(&first) = partition.replicas.first() else {
        return Err(OpError::new(ErrorCode::PreferredLeaderNotAvailable, "the partition has no replicas"));
    };
    if partition.leader == first {
        return Err(OpError::new(
            ErrorCode::ElectionNotNeeded,
            format!("preferred replica {first} is already the leader"),
        ));
    }
    if !partition.isr.contains(&first) || !image.is_active(first) {
        return Err(OpError::new(
            ErrorCode::PreferredLeaderNotAvailable,
            format!("preferred replica {first} is not an active member of the ISR {:?}", partition.isr),
        ));
    }
    Ok(PartitionChange::new(partition).with_preferred_leader())
}

/// The change of an unclean election, or ELECTION_NOT_NEEDED when the partition has a leader.
fn unclean(partition: &PartitionImage) -> Result<PartitionChange<'_>, OpError> {
    if partition.leader != NO_LEADER {
        return Err(OpError::new(
            ErrorCode::ElectionNotNeeded,
            format!("the partition has a leader ({})", partition.leader),
        ));
    }
    Ok(PartitionChange::new(partition).with_unclean(true))
}

fn not_available(election_type: ElectionType, topic: &str, index: i32) -> OpError {
    match election_type {
        ElectionType::Preferred => OpError::new(
            ErrorCode::PreferredLeaderNotAvailable,
            format!("the preferred replica of {topic}-{index} cannot lead"),
        ),
        ElectionType::Unclean => OpError::new(
            ErrorCode::EligibleLeadersNotAvailable,
            format!("no replica of {topic}-{index} is alive to lead"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::image::LeaderRecoveryState;
    use crate::metadata::ops::{fence_broker, unfence_broker};
    use uuid::Uuid;

    const TOPIC: Uuid = Uuid::from_u128(7);

    /// Brokers 1–3 active; topic `t` with partition 0 on [1, 2, 3] led by 2 (ISR all three) and
    /// partition 1 on [2, 3, 1] led by 2.
    fn setup() -> MetadataImage {
        let mut image = super::super::test_support::with_brokers(1..=3);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id: TOPIC });
        for (partition, replicas) in [(0, vec![1, 2, 3]), (1, vec![2, 3, 1])] {
            image.replay(&MetadataRecord::Partition {
                topic_id: TOPIC,
                partition,
                replicas,
                isr: vec![1, 2, 3],
                leader: 2,
                leader_epoch: 4,
                partition_epoch: 6,
            });
        }
        image
    }

    fn asked(partitions: &[i32]) -> Vec<(String, Vec<i32>)> {
        vec![("t".into(), partitions.to_vec())]
    }

    fn codes(results: &[TopicElection]) -> Vec<(String, i32, ErrorCode)> {
        results
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|(p, r)| {
                    (t.topic.clone(), *p, r.as_ref().map_or_else(|e| e.code, |()| ErrorCode::None))
                })
            })
            .collect()
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.replay(r);
        }
    }

    #[test]
    fn preferred_election_moves_leadership_to_the_first_replica() {
        let mut image = setup();
        let (records, results) = elect_leaders(&image, ElectionType::Preferred, Some(&asked(&[0, 1])));
        assert_eq!(
            codes(&results),
            vec![("t".into(), 0, ErrorCode::None), ("t".into(), 1, ErrorCode::ElectionNotNeeded)]
        );
        apply(&mut image, &records);
        let p = image.partition(TOPIC, 0).expect("p0");
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch, p.isr.clone()), (1, 5, 7, vec![1, 2, 3]));
        let (records, results) = elect_leaders(&image, ElectionType::Preferred, Some(&asked(&[0])));
        assert!(records.is_empty());
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::ElectionNotNeeded)]);
    }

    #[test]
    fn preferred_replica_outside_the_isr_or_fenced_is_not_available() {
        let mut image = setup();
        for r in fence_broker(&image, 1).expect("fence") {
            image.replay(&r);
        }
        let (records, results) = elect_leaders(&image, ElectionType::Preferred, Some(&asked(&[0])));
        assert!(records.is_empty());
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::PreferredLeaderNotAvailable)]);
        // Unfenced again but not yet back in the ISR (fencing removed it).
        for r in unfence_broker(&image, 1).expect("unfence") {
            image.replay(&r);
        }
        assert!(!image.partition(TOPIC, 0).expect("p0").isr.contains(&1));
        let (_, results) = elect_leaders(&image, ElectionType::Preferred, Some(&asked(&[0])));
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::PreferredLeaderNotAvailable)]);
    }

    #[test]
    fn unknown_topics_and_partitions_and_duplicates() {
        let image = setup();
        let request = vec![("t".to_string(), vec![0, 9, 0]), ("nope".to_string(), vec![0])];
        let (records, results) = elect_leaders(&image, ElectionType::Preferred, Some(&request));
        assert_eq!(records.len(), 1, "partition 0 decided once");
        assert_eq!(
            codes(&results),
            vec![
                ("t".into(), 0, ErrorCode::None),
                ("t".into(), 9, ErrorCode::UnknownTopicOrPartition),
                ("nope".into(), 0, ErrorCode::UnknownTopicOrPartition),
            ]
        );
    }

    #[test]
    fn all_partitions_leave_out_those_needing_no_election() {
        let image = setup();
        let (records, results) = elect_leaders(&image, ElectionType::Preferred, None);
        assert_eq!(records.len(), 1);
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::None)]);
        let (records, results) = elect_leaders(&image, ElectionType::Unclean, None);
        assert!(records.is_empty());
        assert_eq!(results.len(), 1, "the topic is listed");
        assert!(results[0].partitions.is_empty());
    }

    #[test]
    fn unclean_election_only_for_leaderless_partitions() {
        let mut image = setup();
        let (_, results) = elect_leaders(&image, ElectionType::Unclean, Some(&asked(&[0])));
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::ElectionNotNeeded)]);
        // Shrink partition 0's ISR to broker 2, then fence 2: the partition goes offline.
        image.replay(&MetadataRecord::PartitionChange {
            topic_id: TOPIC,
            partition: 0,
            leader: 2,
            isr: vec![2],
            leader_epoch: 4,
            partition_epoch: 7,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        });
        for r in fence_broker(&image, 2).expect("fence") {
            image.replay(&r);
        }
        assert_eq!(image.partition(TOPIC, 0).expect("p0").leader, NO_LEADER);
        let (_, results) = elect_leaders(&image, ElectionType::Preferred, Some(&asked(&[0])));
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::PreferredLeaderNotAvailable)]);
        let (records, results) = elect_leaders(&image, ElectionType::Unclean, Some(&asked(&[0])));
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::None)]);
        apply(&mut image, &records);
        let p = image.partition(TOPIC, 0).expect("p0");
        assert_eq!(
            (p.leader, p.isr.clone(), p.leader_recovery_state),
            (1, vec![1], LeaderRecoveryState::Recovering)
        );
    }

    #[test]
    fn unclean_election_without_live_replicas_is_not_available() {
        let mut image = setup();
        for b in [1, 2, 3] {
            for r in fence_broker(&image, b).expect("fence") {
                image.replay(&r);
            }
        }
        let (records, results) = elect_leaders(&image, ElectionType::Unclean, Some(&asked(&[0])));
        assert!(records.is_empty());
        assert_eq!(codes(&results), vec![("t".into(), 0, ErrorCode::EligibleLeadersNotAvailable)]);
    }

    #[test]
    fn election_type_codes() {
        for t in [ElectionType::Preferred, ElectionType::Unclean] {
            assert_eq!(ElectionType::from_code(t.code()), Some(t));
        }
        assert_eq!(ElectionType::from_code(2), None);
    }
}
