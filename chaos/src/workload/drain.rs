//! After healing: every partition read from its beginning to its high watermark by a fresh consumer
//! (the final state the checker compares acknowledged writes against).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::base_config;
use crate::history::FinalRead;

/// Reads every partition of `topic` to its high watermark (as it is when the drain starts). Returns
/// the complete partitions' records, the high watermarks, and the partitions that could not be read in
/// `timeout`.
pub fn drain(bootstrap: &str, topic: &str, partitions: i32, timeout: Duration) -> anyhow::Result<Drained> {
    let consumer: BaseConsumer = base_config(bootstrap)
        .set("group.id", "chaos-drain")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let deadline = Instant::now() + timeout;
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        while Instant::now() < deadline {
            if let Ok((_, high)) = consumer.fetch_watermarks(topic, p, Duration::from_secs(5)) {
                ends.insert(p, high);
                break;
            }
        }
    }
    let mut assignment = TopicPartitionList::new();
    for p in ends.keys() {
        assignment.add_partition_offset(topic, *p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut records: BTreeMap<i32, Vec<(i64, String)>> = ends.keys().map(|p| (*p, Vec::new())).collect();
    let complete =
        |records: &BTreeMap<i32, Vec<(i64, String)>>, p: i32| complete_list(&records[&p], ends[&p]);
    while Instant::now() < deadline && !ends.keys().all(|p| complete(&records, *p)) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let value =
                message.payload().map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
            if let Some(list) = records.get_mut(&message.partition())
                && message.offset() < ends[&message.partition()]
            {
                list.push((message.offset(), value));
            }
        }
    }
    let mut reads = Vec::new();
    let mut incomplete: Vec<i32> = (0..partitions).filter(|p| !ends.contains_key(p)).collect();
    for (p, list) in records {
        if complete_list(&list, ends[&p]) {
            reads.push(FinalRead { partition: p, records: list });
        } else {
            incomplete.push(p);
        }
    }
    incomplete.sort_unstable();
    Ok(Drained { reads, high_watermarks: ends, incomplete })
}

/// What a drain read.
#[derive(Debug, Clone)]
pub struct Drained {
    /// Every completely read partition.
    pub reads: Vec<FinalRead>,
    /// The high watermark each partition was read to.
    pub high_watermarks: BTreeMap<i32, i64>,
    /// Partitions that could not be read to their end.
    pub incomplete: Vec<i32>,
}

fn complete_list(list: &[(i64, String)], end: i64) -> bool {
    end == 0 || list.last().is_some_and(|(offset, _)| *offset + 1 >= end)
}
