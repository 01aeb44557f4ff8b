//! Which broker coordinates a consumer group. Kafka hashes the group id onto a partition of
//! `__consumer_offsets` and the partition's leader coordinates it; Strom keeps offsets in the
//! controller quorum instead, so the same hash picks a slot of [`OFFSETS_SLOTS`] and the slot maps onto
//! the live (registered, unfenced) brokers in id order. Every broker computes the same answer from the
//! same metadata image, and a group moves to another broker when its coordinator dies or a broker
//! joins — as Kafka's does when `__consumer_offsets` leadership moves.

use crate::metadata::MetadataImage;

/// Kafka's `offsets.topic.num.partitions` default: the slots group ids hash onto.
pub const OFFSETS_SLOTS: i32 = 50;

/// Java's `String.hashCode` of the group id (UTF-16 code units), as Kafka's `partitionFor` uses it.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The slot of `group` (Kafka's `Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`).
pub fn slot(group: &str) -> i32 {
    (java_hash(group) & i32::MAX) % OFFSETS_SLOTS
}

/// The broker that coordinates `group`, or `None` when no broker is live.
pub fn coordinator(image: &MetadataImage, group: &str) -> Option<i32> {
    let mut live: Vec<i32> = image.brokers().filter(|b| b.is_active()).map(|b| b.broker_id).collect();
    live.sort_unstable();
    let n = live.len();
    (n > 0).then(|| live[slot(group) as usize % n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::MetadataRecord;

    fn register(image: &mut MetadataImage, id: i32, fenced: bool) {
        image.replay(&MetadataRecord::RegisterBroker {
            broker_id: id,
            incarnation_id: uuid::Uuid::from_u128(id as u128),
            host: "h".into(),
            port: 9092,
            endpoints: Vec::new(),
            rack: None,
            fenced,
        });
    }

    #[test]
    fn slots_match_kafkas_partition_for() {
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("ab"), 97 * 31 + 98);
        assert!((0..OFFSETS_SLOTS).contains(&slot("order-processor")));
        assert_eq!(slot(""), 0);
    }

    #[test]
    fn the_coordinator_is_a_live_broker_and_moves_when_it_dies() {
        let mut image = MetadataImage::default();
        assert_eq!(coordinator(&image, "g"), None);
        for id in 1..=3 {
            register(&mut image, id, false);
        }
        let groups: Vec<String> = (0..30).map(|i| format!("group-{i}")).collect();
        let before: Vec<i32> = groups.iter().map(|g| coordinator(&image, g).expect("live")).collect();
        assert!((1..=3).all(|b| before.contains(&b)), "groups spread over all brokers: {before:?}");
        image.replay(&MetadataRecord::FenceBroker { broker_id: 2 });
        for (g, old) in groups.iter().zip(&before) {
            let now = coordinator(&image, g).expect("live");
            assert_ne!(now, 2, "{g} still on the fenced broker");
            if *old != 2 {
                assert!([1, 3].contains(&now));
            }
        }
    }
}
