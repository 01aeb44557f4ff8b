//! The partitions a consumer-group member owns, decoded from the `member_assignment` bytes of
//! DescribeGroups with Kafka's consumer protocol (`ConsumerProtocolAssignment`: version i16, then
//! `[topic string, partitions [i32]]`, then `user_data bytes`; later versions only append fields).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use bytes::{Buf, Bytes};
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::{Decodable, Message};

/// Topic → sorted partitions.
pub type Assignment = BTreeMap<String, Vec<i32>>;

/// Decodes one member's assignment. Empty bytes (a member still joining) own nothing; a version
/// newer than the ones `kafka-protocol` knows is read as the newest known, as Kafka's clients do.
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment> {
    if bytes.is_empty() {
        return Ok(Assignment::new());
    }
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.remaining() < 2 {
        bail!("consumer protocol assignment of {} byte(s) has no version", bytes.len());
    }
    let version = buf.get_i16();
    if version < ConsumerProtocolAssignment::VERSIONS.min {
        bail!("consumer protocol assignment version {version} is invalid");
    }
    let version = version.min(ConsumerProtocolAssignment::VERSIONS.max);
    let decoded = ConsumerProtocolAssignment::decode(&mut buf, version)
        .with_context(|| format!("decoding a consumer protocol assignment (v{version})"))?;
    let mut assignment = Assignment::new();
    for topic in decoded.assigned_partitions {
        let partitions = assignment.entry(topic.topic.0.to_string()).or_default();
        partitions.extend(topic.partitions);
        partitions.sort_unstable();
        partitions.dedup();
    }
    Ok(assignment)
}

/// Number of partitions in an assignment.
pub fn partition_count(assignment: &Assignment) -> usize {
    assignment.values().map(Vec::len).sum()
}

/// Kafka's verbose `--members` rendering: `orders(0,1),payments(2)`, `-` for nothing.
pub fn render(assignment: &Assignment) -> String {
    if assignment.values().all(Vec::is_empty) {
        return "-".into();
    }
    let topics = assignment.iter().filter(|(_, ps)| !ps.is_empty()).map(|(topic, partitions)| {
        let partitions: Vec<String> = partitions.iter().map(i32::to_string).collect();
        format!("{topic}({})", partitions.join(","))
    });
    topics.collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn encoded(version: i16, topics: &[(&str, &[i32])]) -> Vec<u8> {
        let assignment = ConsumerProtocolAssignment::default()
            .with_assigned_partitions(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        TopicPartition::default()
                            .with_topic(kafka_protocol::messages::TopicName(StrBytes::from_string(
                                t.to_string(),
                            )))
                            .with_partitions(ps.to_vec())
                    })
                    .collect(),
            )
            .with_user_data(Some(Bytes::from_static(b"sticky")));
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        assignment.encode(&mut buf, version.min(3)).expect("encode");
        buf.to_vec()
    }

    #[test]
    fn decodes_what_kafka_protocol_encodes() -> Result<()> {
        for version in 0..=3 {
            let bytes = encoded(version, &[("orders", &[2, 0]), ("payments", &[1])]);
            let assignment = decode_assignment(&bytes)?;
            assert_eq!(assignment["orders"], vec![0, 2], "v{version}");
            assert_eq!(assignment["payments"], vec![1]);
            assert_eq!(partition_count(&assignment), 3);
            assert_eq!(render(&assignment), "orders(0,2),payments(1)");
        }
        Ok(())
    }

    #[test]
    fn newer_versions_empty_and_garbage() -> Result<()> {
        let mut future = encoded(7, &[("t", &[4])]);
        future.extend([0, 0, 0, 9]); // a field appended by a future version
        assert_eq!(decode_assignment(&future)?["t"], vec![4]);
        let empty = decode_assignment(&[])?;
        assert_eq!((partition_count(&empty), render(&empty)), (0, "-".to_string()));
        assert!(decode_assignment(&[0]).is_err(), "no version");
        assert!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 1]).is_err(), "negative version");
        assert!(decode_assignment(&[0, 1, 0, 0, 0, 5, 0]).is_err(), "truncated topic array");
        Ok(())
    }
}
