//! Replica placement for new partitions: spread replicas and preferred leaders evenly over the active
//! (unfenced, not shutting down) brokers, on distinct racks where possible.
//!
//! Greedy and deterministic: each new partition takes as leader the active broker with the fewest
//! preferred leaderships (first replicas), then the fewest replicas; each further replica is the
//! broker on a rack the partition does not use yet, with the fewest replicas. Counts start from the
//! partitions already in the image, so leadership stays balanced across topics. Remaining ties go to
//! the broker nearest after a rotating position that starts at `start_index`.

use std::collections::BTreeMap;

use crate::error_code::ErrorCode;
use crate::metadata::image::MetadataImage;
use crate::metadata::ops::OpError;

/// Most partitions one request may create (a guard against requests that would exhaust memory).
pub const MAX_NEW_PARTITIONS: usize = 100_000;

struct Candidate<'a> {
    broker_id: i32,
    rack: Option<&'a str>,
    leaders: usize,
    replicas: usize,
}

/// Replica lists (preferred leader first) for `partitions` new partitions of `replication_factor`
/// replicas each. Pure: the result depends only on the image and the arguments.
pub fn place_replicas(
    image: &MetadataImage,
    partitions: usize,
    replication_factor: usize,
    start_index: usize,
) -> Result<Vec<Vec<i32>>, OpError> {
    if partitions > MAX_NEW_PARTITIONS {
        return Err(OpError::new(
            ErrorCode::InvalidPartitions,
            format!("at most {MAX_NEW_PARTITIONS} partitions can be created at once"),
        ));
    }
    let mut candidates: Vec<Candidate<'_>> = image
        .brokers()
        .filter(|b| b.is_active())
        .map(|b| Candidate { broker_id: b.broker_id, rack: b.rack.as_deref(), leaders: 0, replicas: 0 })
        .collect();
    if replication_factor == 0 || replication_factor > candidates.len() {
        return Err(OpError::new(
            ErrorCode::InvalidReplicationFactor,
            format!(
                "replication factor {replication_factor} must be between 1 and the {} available brokers",
                candidates.len()
            ),
        ));
    }
    let index_of: BTreeMap<i32, usize> =
        candidates.iter().enumerate().map(|(i, c)| (c.broker_id, i)).collect();
    for partition in image.topics().flat_map(|t| t.partitions.values()) {
        for (position, replica) in partition.replicas.iter().enumerate() {
            if let Some(&i) = index_of.get(replica) {
                candidates[i].replicas += 1;
                candidates[i].leaders += usize::from(position == 0);
            }
        }
    }
    let n = candidates.len();
    let mut placements = Vec::with_capacity(partitions);
    for p in 0..partitions {
        let rotation = (start_index.wrapping_add(p)) % n;
        let distance = |i: usize, from: usize| (i + n - from) % n;
        let leader = (0..n)
            .min_by_key(|&i| (candidates[i].leaders, candidates[i].replicas, distance(i, rotation)))
            .unwrap_or(0);
        let mut chosen = vec![leader];
        while chosen.len() < replication_factor {
            let rack_uses = |i: usize| {
                chosen
                    .iter()
                    .filter(|&&c| candidates[c].rack.is_some() && candidates[c].rack == candidates[i].rack)
                    .count()
            };
            let next = (0..n)
                .filter(|i| !chosen.contains(i))
                .min_by_key(|&i| (rack_uses(i), candidates[i].replicas, distance(i, leader)));
            match next {
                Some(i) => chosen.push(i),
                None => break,
            }
        }
        candidates[leader].leaders += 1;
        for &i in &chosen {
            candidates[i].replicas += 1;
        }
        placements.push(chosen.iter().map(|&i| candidates[i].broker_id).collect());
    }
    Ok(placements)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use uuid::Uuid;

    use super::*;
    use crate::metadata::records::MetadataRecord;

    fn image(brokers: &[(i32, Option<&str>)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (id, rack) in brokers {
            image.replay(&MetadataRecord::RegisterBroker {
                broker_id: *id,
                incarnation_id: Uuid::nil(),
                host: "h".into(),
                port: 9092,
                endpoints: Vec::new(),
                rack: rack.map(str::to_owned),
                fenced: false,
            });
        }
        image
    }

    fn counts(placements: &[Vec<i32>]) -> (HashMap<i32, usize>, HashMap<i32, usize>) {
        let mut leaders = HashMap::new();
        let mut replicas = HashMap::new();
        for p in placements {
            *leaders.entry(p[0]).or_default() += 1;
            for r in p {
                *replicas.entry(*r).or_default() += 1;
            }
        }
        (leaders, replicas)
    }

    #[test]
    fn spreads_leaders_and_replicas_evenly() {
        let image = image(&[(1, None), (2, None), (3, None), (4, None)]);
        let placements = place_replicas(&image, 8, 3, 0).expect("place");
        let (leaders, replicas) = counts(&placements);
        assert!(leaders.values().all(|&c| c == 2), "{leaders:?}");
        assert!(replicas.values().all(|&c| c == 6), "{replicas:?}");
        for p in &placements {
            assert_eq!(p.iter().collect::<BTreeSet<_>>().len(), 3, "distinct replicas {p:?}");
        }
    }

    #[test]
    fn rack_aware_when_brokers_have_racks() {
        let racks =
            [(1, Some("a")), (2, Some("a")), (3, Some("b")), (4, Some("b")), (5, Some("c")), (6, Some("c"))];
        let image = image(&racks);
        let rack_of: HashMap<i32, &str> = racks.iter().map(|(b, r)| (*b, r.unwrap_or(""))).collect();
        let placements = place_replicas(&image, 6, 3, 0).expect("place");
        for p in &placements {
            let distinct: BTreeSet<_> = p.iter().map(|b| rack_of[b]).collect();
            assert_eq!(distinct.len(), 3, "{p:?}");
        }
        let (leaders, _) = counts(&placements);
        assert!(leaders.values().all(|&c| c == 1), "{leaders:?}");
    }

    #[test]
    fn balances_leaders_across_topics_and_skips_fenced() {
        let mut image = image(&[(1, None), (2, None), (3, None)]);
        image.replay(&MetadataRecord::FenceBroker { broker_id: 3 });
        let topic_id = Uuid::from_u128(1);
        image.replay(&MetadataRecord::Topic { name: "a".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        });
        let placements = place_replicas(&image, 1, 2, 0).expect("place");
        assert_eq!(placements, vec![vec![2, 1]]);
        assert_eq!(place_replicas(&image, 1, 3, 0).unwrap_err().code, ErrorCode::InvalidReplicationFactor);
        assert_eq!(
            place_replicas(&image, MAX_NEW_PARTITIONS + 1, 1, 0).unwrap_err().code,
            ErrorCode::InvalidPartitions
        );
    }

    #[test]
    fn deterministic_for_same_inputs() {
        let image = image(&[(1, None), (2, None), (3, None), (4, None), (5, None)]);
        assert_eq!(place_replicas(&image, 7, 3, 4), place_replicas(&image, 7, 3, 4));
    }
}
