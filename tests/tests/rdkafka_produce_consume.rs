//! Produce and consume through librdkafka: every compression codec, acks=all (idempotent) and
//! acks=1, key → partition stickiness, headers, timestamps and the max.message.bytes limit.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::Offset;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use strom_tests::kafka::{self, assign, consume, create_topic_at};
use strom_tests::{BrokerProcess, unique_topic};

const PARTITIONS: i32 = 3;
const RECORDS: usize = 300;
const KEYS: usize = 12;
/// CreateTime of record `i` is `BASE_TIMESTAMP + i`.
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

/// What the producer was told about one record.
struct Sent {
    key: String,
    value: String,
    partition: i32,
    offset: i64,
}

/// Produces `RECORDS` keyed records (each awaited via its delivery future) and returns them in send
/// order with their delivered partition and offset.
async fn produce_keyed(bootstrap: &str, topic: &str, settings: &[(&str, &str)]) -> Vec<Sent> {
    let producer = kafka::producer(bootstrap, settings);
    let mut pending = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let key = format!("key-{}", i % KEYS);
        // Repetitive payload so that every codec actually shrinks the batch.
        let value = format!("value-{i:05}-{}", "abcdefgh".repeat(8));
        let record = FutureRecord::to(topic).key(&key).payload(&value).timestamp(BASE_TIMESTAMP + i as i64);
        let delivery = producer.send_result(record).map_err(|(e, _)| e).expect("enqueue record");
        pending.push((key, value, delivery));
    }
    let mut sent = Vec::with_capacity(RECORDS);
    for (i, (key, value, delivery)) in pending.into_iter().enumerate() {
        let delivery = delivery
            .await
            .expect("delivery future dropped")
            .unwrap_or_else(|(e, _)| panic!("record {i} not delivered: {e:?}"));
        sent.push(Sent { key, value, partition: delivery.partition, offset: delivery.offset });
    }
    sent
}

/// Checks delivery reports, then consumes the topic from the beginning and checks every record.
fn verify_round_trip(bootstrap: &str, topic: &str, sent: &[Sent]) {
    // Same key → same partition.
    let mut partition_of_key: HashMap<&str, i32> = HashMap::new();
    for record in sent {
        let partition = *partition_of_key.entry(&record.key).or_insert(record.partition);
        assert_eq!(partition, record.partition, "key {} went to two partitions", record.key);
        assert!((0..PARTITIONS).contains(&record.partition), "bad partition {}", record.partition);
    }
    // Per partition, offsets are 0, 1, 2, … in send order.
    let mut next_offset: HashMap<i32, i64> = HashMap::new();
    for record in sent {
        let next = next_offset.entry(record.partition).or_insert(0);
        assert_eq!(record.offset, *next, "partition {} offsets out of order or with gaps", record.partition);
        *next += 1;
    }

    let consumer = kafka::consumer(bootstrap, &[]);
    assign(&consumer, topic, 0..PARTITIONS, Offset::Beginning);
    let messages = consume(&consumer, sent.len(), Duration::from_secs(20));
    let expected: HashMap<(i32, i64), (usize, &Sent)> =
        sent.iter().enumerate().map(|(i, s)| ((s.partition, s.offset), (i, s))).collect();
    for (partition, received) in kafka::by_partition(&messages) {
        let offsets: Vec<i64> = received.iter().map(|m| m.offset()).collect();
        let want: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, want, "partition {partition} delivered offsets out of order");
        for message in received {
            let (i, record) = expected
                .get(&(partition, message.offset()))
                .unwrap_or_else(|| panic!("unexpected record at {partition}/{}", message.offset()));
            assert_eq!(message.key(), Some(record.key.as_bytes()), "key at {partition}/{}", message.offset());
            assert_eq!(
                message.payload(),
                Some(record.value.as_bytes()),
                "value at {partition}/{}",
                message.offset()
            );
            assert_eq!(message.timestamp(), Timestamp::CreateTime(BASE_TIMESTAMP + *i as i64));
            assert_eq!(message.topic(), topic);
        }
    }
    assert_eq!(messages.len(), sent.len());
}

/// Both acks modes for one codec, each on its own topic of one broker.
async fn round_trip_with_codec(codec: &str) {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();

    let idempotent = unique_topic(&format!("codec-{codec}-idem"));
    create_topic_at(&bootstrap, &idempotent, PARTITIONS, &[]).await;
    let sent = produce_keyed(
        &bootstrap,
        &idempotent,
        &[("compression.type", codec), ("acks", "all"), ("enable.idempotence", "true")],
    )
    .await;
    verify_round_trip(&bootstrap, &idempotent, &sent);

    let acks_one = unique_topic(&format!("codec-{codec}-acks1"));
    create_topic_at(&bootstrap, &acks_one, PARTITIONS, &[]).await;
    let sent = produce_keyed(
        &bootstrap,
        &acks_one,
        &[("compression.type", codec), ("acks", "1"), ("enable.idempotence", "false")],
    )
    .await;
    verify_round_trip(&bootstrap, &acks_one, &sent);
}

#[tokio::test]
async fn round_trip_uncompressed() {
    round_trip_with_codec("none").await;
}

#[tokio::test]
async fn round_trip_gzip() {
    round_trip_with_codec("gzip").await;
}

#[tokio::test]
async fn round_trip_snappy() {
    round_trip_with_codec("snappy").await;
}

#[tokio::test]
async fn round_trip_lz4() {
    round_trip_with_codec("lz4").await;
}

#[tokio::test]
async fn round_trip_zstd() {
    round_trip_with_codec("zstd").await;
}

#[tokio::test]
async fn headers_round_trip() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("headers");
    create_topic_at(&bootstrap, &topic, 1, &[]).await;

    let binary: Vec<u8> = (0..=255u8).collect();
    let headers = OwnedHeaders::new()
        .insert(Header { key: "trace-id", value: Some("abc-123") })
        .insert(Header { key: "binary", value: Some(&binary) })
        .insert(Header { key: "empty", value: Some("") })
        .insert(Header { key: "null", value: None::<&[u8]> })
        .insert(Header { key: "trace-id", value: Some("duplicate keys are kept") });
    let producer = kafka::producer(&bootstrap, &[("enable.idempotence", "true")]);
    let delivery = producer
        .send(FutureRecord::to(&topic).key("k").payload("v").headers(headers), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce failed: {e:?}"));
    assert_eq!((delivery.partition, delivery.offset), (0, 0));
    // A record without headers right after it.
    let delivery = producer
        .send(FutureRecord::to(&topic).key("k2").payload("v2"), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce failed: {e:?}"));
    assert_eq!((delivery.partition, delivery.offset), (0, 1));

    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0], Offset::Beginning);
    let messages = consume(&consumer, 2, Duration::from_secs(15));
    let got: Vec<(String, Option<Vec<u8>>)> = messages[0]
        .headers()
        .expect("headers present")
        .iter()
        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
        .collect();
    let want: Vec<(String, Option<Vec<u8>>)> = vec![
        ("trace-id".into(), Some(b"abc-123".to_vec())),
        ("binary".into(), Some(binary.clone())),
        ("empty".into(), Some(Vec::new())),
        ("null".into(), None),
        ("trace-id".into(), Some(b"duplicate keys are kept".to_vec())),
    ];
    assert_eq!(got, want);
    assert_eq!(messages[1].offset(), 1);
    assert_eq!(messages[1].headers().map_or(0, |h| h.count()), 0, "second record has no headers");
}

#[tokio::test]
async fn record_larger_than_max_message_bytes_is_rejected() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("too-large");
    create_topic_at(&bootstrap, &topic, 1, &[("max.message.bytes", "10000")]).await;

    let producer = kafka::producer(
        &bootstrap,
        &[("message.max.bytes", "1000000"), ("compression.type", "none"), ("acks", "all")],
    );
    // Incompressible-looking bytes (compression is off anyway): 20000 > 10000.
    let big: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let result =
        producer.send(FutureRecord::to(&topic).key("big").payload(&big), Duration::from_secs(10)).await;
    match result {
        Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {}
        other => panic!(
            "expected MessageSizeTooLarge, got {:?}",
            other.map(|d| (d.partition, d.offset)).map_err(|(e, _)| e)
        ),
    }

    // The rejected record took no offset: the next small one is offset 0 and reads back alone.
    let delivery = producer
        .send(FutureRecord::to(&topic).key("small").payload("fits"), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("small record failed: {e:?}"));
    assert_eq!((delivery.partition, delivery.offset), (0, 0));
    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0], Offset::Beginning);
    let messages = consume(&consumer, 1, Duration::from_secs(15));
    assert_eq!(messages[0].payload(), Some(&b"fits"[..]));
    let (low, high) = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!((low, high), (0, 1));
}

#[tokio::test]
async fn log_append_time_topics_stamp_records_with_broker_time() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("log-append-time");
    create_topic_at(&bootstrap, &topic, 1, &[("message.timestamp.type", "LogAppendTime")]).await;
    let now = || {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
    };
    let before = now();
    let producer = kafka::producer(&bootstrap, &[]);
    for i in 0..5 {
        // The producer's CreateTime (year 2001) must be replaced by the broker's clock.
        let record = FutureRecord::to(&topic).key("k").payload("v").timestamp(1_000_000_000_000 + i);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e:?}"));
    }
    let after = now();
    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0], Offset::Beginning);
    for message in consume(&consumer, 5, Duration::from_secs(15)) {
        match message.timestamp() {
            Timestamp::LogAppendTime(ts) => {
                assert!((before..=after).contains(&ts), "append time {ts} outside [{before}, {after}]")
            }
            other => panic!("offset {}: expected LogAppendTime, got {other:?}", message.offset()),
        }
    }
}

#[tokio::test]
async fn topic_compression_type_recompresses_transparently() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let mut sends = Vec::new();
    for (topic_codec, producer_codec) in [("zstd", "lz4"), ("gzip", "none"), ("uncompressed", "snappy")] {
        let topic = unique_topic(&format!("recompress-{topic_codec}"));
        create_topic_at(&bootstrap, &topic, 1, &[("compression.type", topic_codec)]).await;
        let producer = kafka::producer(&bootstrap, &[("compression.type", producer_codec)]);
        let values: Vec<String> =
            (0..50).map(|i| format!("{topic_codec}-{producer_codec}-{i}-{}", "z".repeat(50))).collect();
        let pending: Vec<_> = values
            .iter()
            .map(|v| {
                producer
                    .send_result(FutureRecord::to(&topic).key("k").payload(v))
                    .map_err(|(e, _)| e)
                    .expect("enqueue")
            })
            .collect();
        for (i, delivery) in pending.into_iter().enumerate() {
            let delivery =
                delivery.await.expect("delivery").unwrap_or_else(|(e, _)| panic!("produce: {e:?}"));
            assert_eq!(delivery.offset, i as i64);
        }
        sends.push((topic, values));
    }
    for (topic, values) in sends {
        let consumer = kafka::consumer(&bootstrap, &[]);
        assign(&consumer, &topic, [0], Offset::Beginning);
        let messages = consume(&consumer, values.len(), Duration::from_secs(15));
        let got: Vec<&[u8]> = messages.iter().map(|m| m.payload().unwrap_or_default()).collect();
        let want: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        assert_eq!(got, want, "topic {topic}");
        assert_eq!(messages.iter().map(|m| m.offset()).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_record_larger_than_the_fetch_size_is_still_delivered() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("big-fetch");
    create_topic_at(&bootstrap, &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[("compression.type", "none")]);
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    for (i, payload) in [&b"small"[..], &big, &b"after"[..]].into_iter().enumerate() {
        let delivery = producer
            .send(FutureRecord::to(&topic).key("k").payload(payload), Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce {i}: {e:?}"));
        assert_eq!(delivery.offset, i as i64);
    }
    // KIP-74: the first batch is returned even when it exceeds the fetch size limits.
    // (librdkafka wants message.max.bytes <= fetch.max.bytes, and a response may still be large.)
    let consumer = kafka::consumer(
        &bootstrap,
        &[
            ("message.max.bytes", "1000"),
            ("fetch.max.bytes", "1024"),
            ("max.partition.fetch.bytes", "1024"),
            ("receive.message.max.bytes", "10000000"),
        ],
    );
    assign(&consumer, &topic, [0], Offset::Beginning);
    let messages = consume(&consumer, 3, Duration::from_secs(20));
    assert_eq!(messages[0].payload(), Some(&b"small"[..]));
    assert_eq!(messages[1].payload().map(<[u8]>::len), Some(big.len()));
    assert_eq!(messages[1].payload(), Some(&big[..]));
    assert_eq!(messages[2].payload(), Some(&b"after"[..]));
}
