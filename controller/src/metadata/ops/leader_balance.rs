//! Automatic leader rebalancing (`auto.leader.rebalance.enable`): which partitions the active
//! controller hands back to their preferred replica every `leader.imbalance.check.interval.ms`, as
//! Kafka's controller decides it (`checkAndTriggerAutoLeaderRebalance`).
//!
//! A broker's leader imbalance is the share of the partitions whose preferred (first) replica it is
//! that another broker leads (or nobody does). When that share exceeds
//! `leader.imbalance.per.broker.percentage`, every such partition whose preferred replica can lead
//! now (active and in the ISR) gets a preferred election ([`super::elect_leaders`]).

use std::collections::BTreeMap;

use crate::metadata::image::MetadataImage;

/// Kafka's default `leader.imbalance.per.broker.percentage`.
pub const DEFAULT_LEADER_IMBALANCE_PER_BROKER_PERCENTAGE: u32 = 10;

/// One broker's leader imbalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaderImbalance {
    /// Partitions whose preferred replica is the broker.
    pub preferred: usize,
    /// Of those, the partitions another broker leads (or that have no leader).
    pub led_elsewhere: usize,
}

impl LeaderImbalance {
    /// True when `led_elsewhere / preferred` exceeds `percentage` %.
    pub fn exceeds(&self, percentage: u32) -> bool {
        self.led_elsewhere as u128 * 100 > u128::from(percentage) * self.preferred as u128
    }
}

/// Every broker that is the preferred replica of some partition, with its imbalance.
pub fn leader_imbalance(image: &MetadataImage) -> BTreeMap<i32, LeaderImbalance> {
    let mut brokers: BTreeMap<i32, LeaderImbalance> = BTreeMap::new();
    for topic in image.topics() {
        for partition in topic.partitions.values() {
            let Some(&preferred) = partition.replicas.first() else { continue };
            let entry = brokers.entry(preferred).or_default();
            entry.preferred += 1;
            if partition.leader != preferred {
                entry.led_elsewhere += 1;
            }
        }
    }
    brokers
}

/// The partitions to give back to their preferred replica, grouped by topic (name order): those of
/// brokers whose imbalance exceeds `percentage`, where the preferred replica is active and in the ISR.
pub fn partitions_to_rebalance(image: &MetadataImage, percentage: u32) -> Vec<(String, Vec<i32>)> {
    let imbalanced: Vec<i32> = leader_imbalance(image)
        .into_iter()
        .filter(|(_, imbalance)| imbalance.exceeds(percentage))
        .map(|(broker_id, _)| broker_id)
        .collect();
    let mut out = Vec::new();
    for topic in image.topics() {
        let indexes: Vec<i32> = topic
            .partitions
            .iter()
            .filter(|(_, p)| {
                p.replicas.first().is_some_and(|&preferred| {
                    p.leader != preferred
                        && imbalanced.contains(&preferred)
                        && p.isr.contains(&preferred)
                        && image.is_active(preferred)
                })
            })
            .map(|(&index, _)| index)
            .collect();
        if !indexes.is_empty() {
            out.push((topic.name.clone(), indexes));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::image::LeaderRecoveryState;
    use crate::metadata::ops::{ElectionType, elect_leaders, fence_broker};
    use crate::metadata::records::MetadataRecord;
    use uuid::Uuid;

    const TOPIC: Uuid = Uuid::from_u128(9);

    /// Brokers 1–3; topic `t` with `n` partitions, replicas rotated so partition `i`'s preferred
    /// replica is broker `i % 3 + 1`, each led by its preferred replica.
    fn setup(n: i32) -> MetadataImage {
        let mut image = super::super::test_support::with_brokers(1..=3);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id: TOPIC });
        for partition in 0..n {
            let replicas: Vec<i32> = (0..3).map(|k| (partition + k) % 3 + 1).collect();
            image.replay(&MetadataRecord::Partition {
                topic_id: TOPIC,
                partition,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
            });
        }
        image
    }

    fn lead(image: &mut MetadataImage, partition: i32, leader: i32) {
        let p = image.partition(TOPIC, partition).expect("partition").clone();
        image.replay(&MetadataRecord::PartitionChange {
            topic_id: TOPIC,
            partition,
            leader,
            isr: p.isr,
            leader_epoch: p.leader_epoch + 1,
            partition_epoch: p.partition_epoch + 1,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        });
    }

    #[test]
    fn balanced_cluster_needs_nothing() {
        let image = setup(6);
        assert!(partitions_to_rebalance(&image, 0).is_empty());
        let imbalance = leader_imbalance(&image);
        assert_eq!(imbalance[&1], LeaderImbalance { preferred: 2, led_elsewhere: 0 });
    }

    #[test]
    fn imbalance_above_the_percentage_is_rebalanced() {
        // Broker 1 prefers partitions 0, 3, 6, 9 (of 12); one of four led elsewhere is 25 %.
        let mut image = setup(12);
        lead(&mut image, 3, 2);
        assert_eq!(leader_imbalance(&image)[&1], LeaderImbalance { preferred: 4, led_elsewhere: 1 });
        assert_eq!(partitions_to_rebalance(&image, 10), vec![("t".to_string(), vec![3])]);
        assert!(partitions_to_rebalance(&image, 25).is_empty(), "exactly at the threshold");
        assert!(partitions_to_rebalance(&image, 30).is_empty());
        let plan = partitions_to_rebalance(&image, 10);
        let (records, _) = elect_leaders(&image, ElectionType::Preferred, Some(&plan));
        for r in &records {
            image.replay(r);
        }
        assert!(partitions_to_rebalance(&image, 0).is_empty());
        assert_eq!(image.partition(TOPIC, 3).expect("p3").leader, 1);
    }

    #[test]
    fn preferred_replicas_that_cannot_lead_are_skipped() {
        let mut image = setup(3);
        for r in fence_broker(&image, 1).expect("fence") {
            image.replay(&r);
        }
        assert_ne!(image.partition(TOPIC, 0).expect("p0").leader, 1);
        assert_eq!(leader_imbalance(&image)[&1].led_elsewhere, 1);
        assert!(partitions_to_rebalance(&image, 10).is_empty(), "fenced and out of the ISR");
    }

    #[test]
    fn threshold_arithmetic() {
        let i = LeaderImbalance { preferred: 10, led_elsewhere: 1 };
        assert!(!i.exceeds(10));
        assert!(i.exceeds(9));
        assert!(!LeaderImbalance::default().exceeds(0));
        assert!(!LeaderImbalance { preferred: 1, led_elsewhere: 1 }.exceeds(100));
        assert!(LeaderImbalance { preferred: 1, led_elsewhere: 1 }.exceeds(99));
    }
}
