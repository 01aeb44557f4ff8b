//! Durability across broker crashes and restarts on the same data directory.
//!
//! - `flush.messages=1`: every acknowledged record is fsynced, so it survives `kill -9`.
//! - Default flush policy + SIGTERM: a clean shutdown flushes everything.
//! - Default flush policy + `kill -9`: the broker recovers its log and serves a prefix of what was
//!   written, offsets intact; a torn (garbage) tail is cut off on recovery.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::Offset;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use strom_tests::kafka::{self, assign, consume, create_topic_at};
use strom_tests::{BrokerProcess, unique_topic};

const TIMEOUT: Duration = Duration::from_secs(10);

fn value(i: usize) -> String {
    format!("durable-{i:06}-payload")
}

/// Produces `values` to one partition with `settings`, awaiting each delivery before the next send;
/// asserts offsets `first_offset..`.
async fn produce_each_awaited(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    values: impl Iterator<Item = String>,
    first_offset: i64,
    settings: &[(&str, &str)],
) -> usize {
    let producer = kafka::producer(bootstrap, settings);
    let mut count = 0;
    for (i, value) in values.enumerate() {
        let record = FutureRecord::to(topic).partition(partition).key("k").payload(&value);
        let delivery =
            producer.send(record, TIMEOUT).await.unwrap_or_else(|(e, _)| panic!("produce {value}: {e:?}"));
        assert_eq!(delivery.offset, first_offset + i as i64, "offset of {value}");
        count += 1;
    }
    count
}

/// Produces `values` to one partition pipelined (all enqueued, then awaited); asserts offsets.
async fn produce_pipelined(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    values: &[String],
    first_offset: i64,
) {
    let producer = kafka::producer(bootstrap, &[("enable.idempotence", "true"), ("acks", "all")]);
    let pending: Vec<_> = values
        .iter()
        .map(|v| {
            let record = FutureRecord::to(topic).partition(partition).key("k").payload(v);
            producer.send_result(record).map_err(|(e, _)| e).expect("enqueue")
        })
        .collect();
    for (i, delivery) in pending.into_iter().enumerate() {
        let delivery = delivery.await.expect("delivery").unwrap_or_else(|(e, _)| panic!("record {i}: {e:?}"));
        assert_eq!(delivery.offset, first_offset + i as i64);
    }
}

/// Reads partition `partition` from the beginning up to its high watermark; returns
/// `(log_start_offset, values in offset order)` and asserts offsets are contiguous.
fn read_partition(bootstrap: &str, topic: &str, partition: i32) -> (i64, Vec<String>) {
    let consumer = kafka::consumer(bootstrap, &[]);
    let (low, high) = consumer.fetch_watermarks(topic, partition, TIMEOUT).expect("watermarks");
    assign(&consumer, topic, [partition], Offset::Beginning);
    let messages = consume(&consumer, (high - low) as usize, Duration::from_secs(30));
    let offsets: Vec<i64> = messages.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, (low..high).collect::<Vec<_>>(), "offsets of partition {partition}");
    let values = messages
        .iter()
        .map(|m| String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8 payload"))
        .collect();
    (low, values)
}

#[tokio::test]
async fn flush_messages_1_survives_kill_9() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("durable-flush1");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[("flush.messages", "1")]).await;

    const N: usize = 500;
    let sent = produce_each_awaited(
        &broker.bootstrap(),
        &topic,
        0,
        (0..N).map(value),
        0,
        &[("acks", "1"), ("linger.ms", "0"), ("enable.idempotence", "false")],
    )
    .await;
    assert_eq!(sent, N);

    broker.kill9();
    broker.restart();

    let (low, values) = read_partition(&broker.bootstrap(), &topic, 0);
    assert_eq!(low, 0);
    assert_eq!(values.len(), N, "acknowledged fsynced records lost after kill -9");
    assert_eq!(values, (0..N).map(value).collect::<Vec<_>>());
    // The topic's config survived too: the log end continues where it was.
    let more =
        produce_each_awaited(&broker.bootstrap(), &topic, 0, [value(N)].into_iter(), N as i64, &[]).await;
    assert_eq!(more, 1);
}

#[tokio::test]
async fn clean_shutdown_keeps_every_record() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("durable-sigterm");
    create_topic_at(&broker.bootstrap(), &topic, 2, &[]).await;

    let p0: Vec<String> = (0..1000).map(value).collect();
    let p1: Vec<String> = (5000..5300).map(value).collect();
    produce_pipelined(&broker.bootstrap(), &topic, 0, &p0, 0).await;
    produce_pipelined(&broker.bootstrap(), &topic, 1, &p1, 0).await;

    let status = broker.terminate();
    assert!(status.success(), "broker exit status after SIGTERM: {status}");
    broker.restart();

    assert_eq!(read_partition(&broker.bootstrap(), &topic, 0), (0, p0.clone()));
    assert_eq!(read_partition(&broker.bootstrap(), &topic, 1), (0, p1.clone()));

    // Appends continue at the recovered log end offsets, and survive a second clean restart.
    let extra: Vec<String> = (1000..1010).map(value).collect();
    produce_pipelined(&broker.bootstrap(), &topic, 0, &extra, 1000).await;
    let status = broker.terminate();
    assert!(status.success(), "second SIGTERM: {status}");
    broker.restart();
    let (_, values) = read_partition(&broker.bootstrap(), &topic, 0);
    assert_eq!(values.len(), 1010);
    assert_eq!(&values[1000..], &extra[..]);
}

#[tokio::test]
async fn kill_9_with_default_flush_recovers_a_prefix() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("durable-default");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[]).await;

    // Acknowledged records, then a burst still in flight when the broker dies.
    let written: Vec<String> = (0..3000).map(value).collect();
    produce_pipelined(&broker.bootstrap(), &topic, 0, &written[..1000], 0).await;
    let producer =
        kafka::producer(&broker.bootstrap(), &[("enable.idempotence", "true"), ("linger.ms", "1")]);
    let in_flight: Vec<_> = written[1000..]
        .iter()
        .map(|v| {
            let record = FutureRecord::to(&topic).partition(0).key("k").payload(v);
            producer.send_result(record).map_err(|(e, _)| e).expect("enqueue")
        })
        .collect();
    broker.kill9();
    drop(in_flight);
    drop(producer);

    broker.restart();
    let (low, values) = read_partition(&broker.bootstrap(), &topic, 0);
    assert_eq!(low, 0);
    assert!(values.len() <= written.len(), "more records than were written: {}", values.len());
    assert_eq!(values, written[..values.len()], "recovered log is not a prefix of what was written");
    eprintln!("recovered {} of {} records (1000 acknowledged before kill -9)", values.len(), written.len());

    // The recovered broker takes appends at its log end offset.
    let next = values.len() as i64;
    produce_pipelined(&broker.bootstrap(), &topic, 0, &[value(999_999)], next).await;
}

/// Files under `dir` whose contents include `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read data dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn torn_tail_after_kill_9_is_truncated_on_recovery() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("durable-torn");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[("flush.messages", "1")]).await;
    let written: Vec<String> = (0..50).map(|i| format!("torn-marker-{i:04}")).collect();
    produce_pipelined(&broker.bootstrap(), &topic, 0, &written, 0).await;
    broker.kill9();

    // Simulate a write cut short by the crash: half a record batch of junk after the last batch.
    let segments = files_containing(broker.data_dir(), b"torn-marker-0049");
    assert_eq!(segments.len(), 1, "expected one segment file holding the records: {segments:?}");
    let mut bytes = std::fs::read(&segments[0]).expect("read segment");
    let junk: Vec<u8> = (0..37u8).map(|i| i.wrapping_mul(73) ^ 0x5a).collect();
    bytes.extend_from_slice(&junk);
    std::fs::write(&segments[0], &bytes).expect("append junk");

    broker.restart();
    assert_eq!(read_partition(&broker.bootstrap(), &topic, 0), (0, written.clone()));
    produce_pipelined(&broker.bootstrap(), &topic, 0, &["after-recovery".to_string()], 50).await;
    let (_, values) = read_partition(&broker.bootstrap(), &topic, 0);
    assert_eq!(values.len(), 51);
    assert_eq!(values[50], "after-recovery");
}
