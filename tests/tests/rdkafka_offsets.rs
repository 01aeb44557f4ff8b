//! Offsets through librdkafka: watermarks (ListOffsets earliest/latest), offsets_for_times
//! (ListOffsets by timestamp), seeking, and out-of-range fetches with each auto.offset.reset policy.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use strom_tests::kafka::{self, ConsumeError, assign, consume, create_topic_at, try_consume};
use strom_tests::{BrokerProcess, unique_topic};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Produces one record and waits for its delivery; returns its offset.
async fn produce_one(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    value: &str,
    timestamp: i64,
) -> i64 {
    let record = FutureRecord::to(topic).partition(partition).key("k").payload(value).timestamp(timestamp);
    let delivery =
        producer.send(record, TIMEOUT).await.unwrap_or_else(|(e, _)| panic!("produce {value}: {e:?}"));
    assert_eq!(delivery.partition, partition);
    delivery.offset
}

/// Offsets returned by offsets_for_times for each `(partition, timestamp)` query.
fn offsets_for_times(consumer: &BaseConsumer, topic: &str, queries: &[(i32, i64)]) -> Vec<Offset> {
    queries
        .iter()
        .map(|&(partition, timestamp)| {
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(topic, partition, Offset::Offset(timestamp)).expect("query");
            let result = consumer.offsets_for_times(list, TIMEOUT).expect("ListOffsets by timestamp");
            let element = &result.elements()[0];
            assert_eq!(element.error(), Ok(()), "partition {partition} timestamp {timestamp}");
            element.offset()
        })
        .collect()
}

#[tokio::test]
async fn watermarks_follow_produced_records() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("offsets-watermarks");
    create_topic_at(&bootstrap, &topic, 2, &[]).await;
    let consumer = kafka::consumer(&bootstrap, &[]);
    assert_eq!(consumer.fetch_watermarks(&topic, 0, TIMEOUT).expect("watermarks"), (0, 0));
    assert_eq!(consumer.fetch_watermarks(&topic, 1, TIMEOUT).expect("watermarks"), (0, 0));

    let producer = kafka::producer(&bootstrap, &[("enable.idempotence", "true")]);
    for i in 0..7 {
        assert_eq!(produce_one(&producer, &topic, 0, &format!("p0-{i}"), 1000 + i).await, i);
    }
    for i in 0..3 {
        assert_eq!(produce_one(&producer, &topic, 1, &format!("p1-{i}"), 1000 + i).await, i);
    }
    assert_eq!(consumer.fetch_watermarks(&topic, 0, TIMEOUT).expect("watermarks"), (0, 7));
    assert_eq!(consumer.fetch_watermarks(&topic, 1, TIMEOUT).expect("watermarks"), (0, 3));

    // A partition that does not exist is an error, not (0, 0).
    let missing = consumer.fetch_watermarks(&topic, 5, TIMEOUT);
    assert!(missing.is_err(), "watermarks of partition 5 of a 2-partition topic: {missing:?}");
}

#[tokio::test]
async fn offsets_for_times_finds_the_first_offset_at_or_after_the_timestamp() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("offsets-times");
    create_topic_at(&bootstrap, &topic, 2, &[]).await;
    let producer = kafka::producer(&bootstrap, &[]);

    // Partition 0: one batch per record, timestamps 1000, 2000, …, 10000 at offsets 0..9.
    for i in 0..10i64 {
        assert_eq!(produce_one(&producer, &topic, 0, &format!("r{i}"), (i + 1) * 1000).await, i);
    }
    // Partition 1: non-monotonic timestamps, sent together so they share batches.
    let timestamps = [5000i64, 3000, 4000, 6000, 2000];
    let pending: Vec<_> = timestamps
        .iter()
        .map(|&ts| {
            let record = FutureRecord::to(&topic).partition(1).key("k").payload("x").timestamp(ts);
            producer.send_result(record).map_err(|(e, _)| e).expect("enqueue")
        })
        .collect();
    for (i, delivery) in pending.into_iter().enumerate() {
        let delivery = delivery.await.expect("delivery").unwrap_or_else(|(e, _)| panic!("produce: {e:?}"));
        assert_eq!(delivery.offset, i as i64);
    }

    let consumer = kafka::consumer(&bootstrap, &[]);
    let got = offsets_for_times(
        &consumer,
        &topic,
        &[(0, 1000), (0, 500), (0, 2500), (0, 3000), (0, 10_000), (0, 10_001), (0, 99_999_999)],
    );
    assert_eq!(
        got,
        vec![
            Offset::Offset(0),
            Offset::Offset(0),
            Offset::Offset(2),
            Offset::Offset(2),
            Offset::Offset(9),
            Offset::End, // no record that late: offset -1
            Offset::End,
        ]
    );
    // The first offset whose timestamp is >= the target, not the first larger timestamp's offset.
    let got = offsets_for_times(&consumer, &topic, &[(1, 3500), (1, 1000), (1, 5500), (1, 6000), (1, 6001)]);
    assert_eq!(
        got,
        vec![Offset::Offset(0), Offset::Offset(0), Offset::Offset(3), Offset::Offset(3), Offset::End]
    );
}

#[tokio::test]
async fn seek_moves_the_fetch_position() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("offsets-seek");
    create_topic_at(&bootstrap, &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[]);
    for i in 0..20 {
        produce_one(&producer, &topic, 0, &format!("value-{i}"), 1000 + i).await;
    }

    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0], Offset::Beginning);
    let first = consume(&consumer, 5, TIMEOUT);
    assert_eq!(first.iter().map(|m| m.offset()).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);

    for target in [15i64, 2, 19] {
        consumer.seek(&topic, 0, Offset::Offset(target), TIMEOUT).expect("seek");
        let next = consume(&consumer, 1, TIMEOUT);
        assert_eq!(next[0].offset(), target, "after seek to {target}");
        assert_eq!(next[0].payload(), Some(format!("value-{target}").as_bytes()));
    }

    consumer.seek(&topic, 0, Offset::OffsetTail(3), TIMEOUT).expect("seek tail");
    let tail = consume(&consumer, 3, TIMEOUT);
    assert_eq!(tail.iter().map(|m| m.offset()).collect::<Vec<_>>(), vec![17, 18, 19]);

    // At the end: only records produced afterwards arrive.
    consumer.seek(&topic, 0, Offset::End, TIMEOUT).expect("seek end");
    assert!(
        matches!(try_consume(&consumer, 1, Duration::from_millis(700)), Err(ConsumeError::Timeout(ref got)) if got.is_empty()),
        "nothing past the end yet"
    );
    assert_eq!(produce_one(&producer, &topic, 0, "late", 5000).await, 20);
    let late = consume(&consumer, 1, TIMEOUT);
    assert_eq!((late[0].offset(), late[0].payload()), (20, Some(&b"late"[..])));
}

#[tokio::test]
async fn out_of_range_fetch_follows_auto_offset_reset() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("offsets-out-of-range");
    create_topic_at(&bootstrap, &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[]);
    for i in 0..5 {
        produce_one(&producer, &topic, 0, &format!("value-{i}"), 1000 + i).await;
    }

    // auto.offset.reset=error: the OFFSET_OUT_OF_RANGE fetch error reaches the application.
    let consumer = kafka::consumer(&bootstrap, &[("auto.offset.reset", "error")]);
    assign(&consumer, &topic, [0], Offset::Offset(100));
    match try_consume(&consumer, 1, Duration::from_secs(15)) {
        Err(ConsumeError::Kafka(KafkaError::MessageConsumption(code), got)) => {
            assert!(got.is_empty());
            assert!(
                matches!(code, RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange),
                "unexpected error code {code:?}"
            );
        }
        other => panic!("expected an offset-out-of-range error, got {other:?}"),
    }

    // earliest: resets to offset 0.
    let consumer = kafka::consumer(&bootstrap, &[("auto.offset.reset", "earliest")]);
    assign(&consumer, &topic, [0], Offset::Offset(100));
    let messages = consume(&consumer, 5, TIMEOUT);
    assert_eq!(messages.iter().map(|m| m.offset()).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);

    // latest: resets to the high watermark and sees only new records.
    let consumer = kafka::consumer(&bootstrap, &[("auto.offset.reset", "latest")]);
    assign(&consumer, &topic, [0], Offset::Offset(100));
    assert!(
        matches!(try_consume(&consumer, 1, Duration::from_secs(2)), Err(ConsumeError::Timeout(ref got)) if got.is_empty()),
        "latest reset must not replay old records"
    );
    assert_eq!(produce_one(&producer, &topic, 0, "after-reset", 9000).await, 5);
    let messages = consume(&consumer, 1, TIMEOUT);
    assert_eq!((messages[0].offset(), messages[0].payload()), (5, Some(&b"after-reset"[..])));
}
