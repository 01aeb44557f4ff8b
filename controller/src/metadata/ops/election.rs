//! Leader election and ISR changes for one partition (Kafka's `PartitionChangeBuilder`, reduced).
//!
//! Rules, applied to a target ISR:
//! 0. For a preferred election ([`PartitionChange::with_preferred_leader`]), the first replica leads
//!    if it is in the target ISR and eligible.
//! 1. The current leader stays if it is in the target ISR and still eligible.
//! 2. Otherwise the first replica (replica order = preference order) that is in the ISR and eligible
//!    leads: a clean election.
//! 3. Otherwise, when the topic allows unclean election, the first eligible replica leads and the ISR
//!    becomes just that replica; the partition is marked [`LeaderRecoveryState::Recovering`].
//! 4. Otherwise the partition is offline: leader -1.
//!
//! The leader epoch bumps when the leader changes (including to or from -1); the partition epoch bumps
//! on any change. An unchanged partition yields no record.

use uuid::Uuid;

use crate::metadata::image::{LeaderRecoveryState, MetadataImage, PartitionImage, TopicImage};
use crate::metadata::records::MetadataRecord;

/// No leader.
pub const NO_LEADER: i32 = -1;

/// Config that allows unclean leader election.
pub const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

/// Whether `topic` allows unclean election: its override, else the cluster-wide dynamic broker
/// default, else false.
pub fn unclean_allowed(image: &MetadataImage, topic: &TopicImage) -> bool {
    topic
        .configs
        .get(UNCLEAN_LEADER_ELECTION)
        .or_else(|| image.cluster_broker_configs().get(UNCLEAN_LEADER_ELECTION))
        .is_some_and(|v| v == "true")
}

/// A proposed change to one partition.
#[derive(Debug, Clone)]
pub struct PartitionChange<'a> {
    current: &'a PartitionImage,
    target_isr: Vec<i32>,
    recovery_state: LeaderRecoveryState,
    unclean_allowed: bool,
    prefer_first_replica: bool,
}

impl<'a> PartitionChange<'a> {
    /// Starts from the partition's current ISR and recovery state, clean elections only.
    pub fn new(current: &'a PartitionImage) -> Self {
        Self {
            current,
            target_isr: current.isr.clone(),
            recovery_state: current.leader_recovery_state,
            unclean_allowed: false,
            prefer_first_replica: false,
        }
    }

    /// A preferred election: the first replica takes over from the current leader when it is in the
    /// ISR and eligible (otherwise the other rules apply unchanged).
    pub fn with_preferred_leader(mut self) -> Self {
        self.prefer_first_replica = true;
        self
    }

    /// Proposes a new ISR.
    pub fn with_isr(mut self, isr: Vec<i32>) -> Self {
        self.target_isr = isr;
        self
    }

    /// Proposes a new leader recovery state.
    pub fn with_recovery_state(mut self, state: LeaderRecoveryState) -> Self {
        self.recovery_state = state;
        self
    }

    /// Allows an unclean election when no ISR member is eligible.
    pub fn with_unclean(mut self, allowed: bool) -> Self {
        self.unclean_allowed = allowed;
        self
    }

    /// Removes `broker_id` from the proposed ISR, except when it is the last member (Kafka's "last
    /// replica standing": the ISR never becomes empty, so the partition knows whom to wait for).
    pub fn without(mut self, broker_id: i32) -> Self {
        if self.target_isr.iter().any(|r| *r != broker_id) {
            self.target_isr.retain(|r| *r != broker_id);
        }
        self
    }

    /// Elects a leader among replicas for which `eligible` holds and returns the record, or `None`
    /// when nothing changes.
    pub fn build(
        self,
        topic_id: Uuid,
        partition: i32,
        eligible: impl Fn(i32) -> bool,
    ) -> Option<MetadataRecord> {
        let current = self.current;
        let mut isr = self.target_isr;
        let mut recovery_state = self.recovery_state;
        let in_isr = |isr: &[i32], r: i32| isr.contains(&r);
        let preferred = current
            .replicas
            .first()
            .copied()
            .filter(|&r| self.prefer_first_replica && in_isr(&isr, r) && eligible(r));
        let leader = if let Some(r) = preferred {
            r
        } else if current.leader != NO_LEADER && in_isr(&isr, current.leader) && eligible(current.leader) {
            current.leader
        } else if let Some(&r) = current.replicas.iter().find(|&&r| in_isr(&isr, r) && eligible(r)) {
            r
        } else if let Some(&r) = current.replicas.iter().find(|&&r| self.unclean_allowed && eligible(r)) {
            isr = vec![r];
            recovery_state = LeaderRecoveryState::Recovering;
            r
        } else {
            NO_LEADER
        };
        let leader_changed = leader != current.leader;
        if !leader_changed && isr == current.isr && recovery_state == current.leader_recovery_state {
            return None;
        }
        Some(MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader,
            isr,
            leader_epoch: current.leader_epoch + i32::from(leader_changed),
            partition_epoch: current.partition_epoch + 1,
            leader_recovery_state: recovery_state,
        })
    }
}

/// Records that take `broker_id` out of every ISR it is in (last replica standing excepted) and move
/// its leaderships to eligible ISR members (unclean where the topic allows). `broker_id` counts as
/// ineligible whatever the image says, so this serves fencing, controlled shutdown and re-registration.
pub fn remove_broker_from_partitions(image: &MetadataImage, broker_id: i32) -> Vec<MetadataRecord> {
    let eligible = |r: i32| r != broker_id && image.is_active(r);
    let mut records = Vec::new();
    for topic in image.topics() {
        let unclean = unclean_allowed(image, topic);
        for (&index, partition) in &topic.partitions {
            if !partition.isr.contains(&broker_id) && partition.leader != broker_id {
                continue;
            }
            let change = PartitionChange::new(partition).without(broker_id).with_unclean(unclean);
            records.extend(change.build(topic.topic_id, index, eligible));
        }
    }
    records
}

/// Records electing leaders for offline partitions that `broker_id` (about to be unfenced) can lead:
/// from the ISR, or any replica where the topic allows unclean election.
pub fn elect_with_returning_broker(image: &MetadataImage, broker_id: i32) -> Vec<MetadataRecord> {
    let eligible = |r: i32| r == broker_id || image.is_active(r);
    let mut records = Vec::new();
    for topic in image.topics() {
        let unclean = unclean_allowed(image, topic);
        for (&index, partition) in &topic.partitions {
            if partition.leader != NO_LEADER || !partition.replicas.contains(&broker_id) {
                continue;
            }
            let change = PartitionChange::new(partition).with_unclean(unclean);
            records.extend(change.build(topic.topic_id, index, eligible));
        }
    }
    records
}

/// Records electing, uncleanly where needed, leaders for `topic`'s offline partitions that have an
/// active replica: for when unclean election has just been enabled.
pub fn elect_offline_uncleanly(image: &MetadataImage, topic: &TopicImage) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for (&index, partition) in &topic.partitions {
        if partition.leader == NO_LEADER {
            let change = PartitionChange::new(partition).with_unclean(true);
            records.extend(change.build(topic.topic_id, index, |r| image.is_active(r)));
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(replicas: &[i32], isr: &[i32], leader: i32) -> PartitionImage {
        PartitionImage {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 5,
            partition_epoch: 9,
            leader_recovery_state: LeaderRecoveryState::Recovered,
            ..Default::default()
        }
    }

    fn fields(record: Option<MetadataRecord>) -> (i32, Vec<i32>, i32, i32, LeaderRecoveryState) {
        match record {
            Some(MetadataRecord::PartitionChange {
                leader,
                isr,
                leader_epoch,
                partition_epoch,
                leader_recovery_state,
                ..
            }) => (leader, isr, leader_epoch, partition_epoch, leader_recovery_state),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn leader_kept_when_still_in_isr() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], 1);
        let (leader, isr, le, pe, _) =
            fields(PartitionChange::new(&p).without(3).build(Uuid::nil(), 0, |_| true));
        assert_eq!((leader, isr, le, pe), (1, vec![1, 2], 5, 10));
    }

    #[test]
    fn new_leader_from_isr_in_replica_order() {
        let p = partition(&[1, 2, 3], &[3, 2, 1], 1);
        let (leader, isr, le, pe, _) =
            fields(PartitionChange::new(&p).without(1).build(Uuid::nil(), 0, |r| r != 1));
        assert_eq!((leader, isr, le, pe), (2, vec![3, 2], 6, 10));
    }

    #[test]
    fn last_replica_standing_keeps_isr_and_goes_offline() {
        let p = partition(&[1, 2], &[1], 1);
        let (leader, isr, le, _, _) =
            fields(PartitionChange::new(&p).without(1).build(Uuid::nil(), 0, |r| r != 1));
        assert_eq!((leader, isr, le), (NO_LEADER, vec![1], 6));
    }

    #[test]
    fn unclean_election_picks_live_replica_and_marks_recovering() {
        let p = partition(&[1, 2], &[1], 1);
        let change = PartitionChange::new(&p).without(1).with_unclean(true);
        let (leader, isr, _, _, state) = fields(change.build(Uuid::nil(), 0, |r| r != 1));
        assert_eq!((leader, isr, state), (2, vec![2], LeaderRecoveryState::Recovering));
    }

    #[test]
    fn no_change_no_record() {
        let p = partition(&[1, 2], &[1, 2], 1);
        assert!(PartitionChange::new(&p).build(Uuid::nil(), 0, |_| true).is_none());
    }
}
