//! The consumer protocol's member metadata and assignments (opaque bytes to the group protocol),
//! decoded where the coordinator needs to know topics: OffsetDelete's "still subscribed" check and
//! the unowned-partitions metric. Anything that does not decode is reported as `None`.

use std::collections::BTreeSet;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::Decodable;

/// The topics of a consumer-protocol subscription.
pub fn subscribed_topics(metadata: &Bytes) -> Option<Vec<String>> {
    let mut buf = metadata.clone();
    if buf.remaining() < 2 {
        return None;
    }
    let version = buf.get_i16();
    let subscription = ConsumerProtocolSubscription::decode(&mut buf, version.clamp(0, 3)).ok()?;
    Some(subscription.topics.iter().map(|t| t.to_string()).collect())
}

/// The (topic, partition) pairs of a consumer-protocol assignment.
pub fn assigned_partitions(assignment: &Bytes) -> Option<BTreeSet<(String, i32)>> {
    let mut buf = assignment.clone();
    if buf.remaining() < 2 {
        return None;
    }
    let version = buf.get_i16();
    let decoded = ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)).ok()?;
    Some(
        decoded
            .assigned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    #[test]
    fn decodes_subscriptions_and_assignments() {
        let mut buf = BytesMut::new();
        buf.put_i16(1);
        ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("a"), StrBytes::from_static_str("b")])
            .encode(&mut buf, 1)
            .expect("encode");
        assert_eq!(subscribed_topics(&buf.freeze()), Some(vec!["a".to_string(), "b".to_string()]));

        let mut buf = BytesMut::new();
        buf.put_i16(0);
        ConsumerProtocolAssignment::default()
            .with_assigned_partitions(vec![
                TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_static_str("a")))
                    .with_partitions(vec![0, 2]),
            ])
            .encode(&mut buf, 0)
            .expect("encode");
        let owned = assigned_partitions(&buf.freeze()).expect("decodes");
        assert_eq!(owned.into_iter().collect::<Vec<_>>(), vec![("a".to_string(), 0), ("a".to_string(), 2)]);

        assert_eq!(subscribed_topics(&Bytes::from_static(b"\x00")), None);
        assert_eq!(assigned_partitions(&Bytes::from_static(b"\x00\x00\xff")), None);
    }
}
