//! Log retention as clients see it: with small segments, `retention.bytes` and `retention.ms` delete
//! whole old segments, moving the log start offset (low watermark) forward while what remains reads
//! back intact.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::Offset;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use strom_tests::kafka::{self, assign, consume, create_topic_at};
use strom_tests::{BrokerProcess, unique_topic, wait_until};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Retention checks every 100 ms so tests see deletion quickly.
const FAST_RETENTION: &str = "log_retention_check_interval_ms = 100\n";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

fn value(i: usize) -> String {
    format!("retained-{i:05}-{}", "r".repeat(100))
}

/// Produces `count` records one batch each (awaited in turn) with CreateTime `timestamp(i)`.
async fn produce(
    bootstrap: &str,
    topic: &str,
    range: std::ops::Range<usize>,
    timestamp: impl Fn(usize) -> i64,
) {
    let producer = kafka::producer(bootstrap, &[("linger.ms", "0")]);
    for i in range {
        let payload = value(i);
        let record = FutureRecord::to(topic).partition(0).key("k").payload(&payload).timestamp(timestamp(i));
        let delivery =
            producer.send(record, TIMEOUT).await.unwrap_or_else(|(e, _)| panic!("produce {i}: {e:?}"));
        assert_eq!(delivery.offset, i as i64);
    }
}

/// Reads `[low, high)` and checks every value.
fn assert_reads_back(bootstrap: &str, topic: &str, low: i64, high: i64) {
    let consumer = kafka::consumer(bootstrap, &[]);
    assign(&consumer, topic, [0], Offset::Beginning);
    let messages = consume(&consumer, (high - low) as usize, Duration::from_secs(20));
    for (message, offset) in messages.iter().zip(low..high) {
        assert_eq!(message.offset(), offset);
        assert_eq!(message.payload(), Some(value(offset as usize).as_bytes()));
    }
}

#[tokio::test]
async fn retention_bytes_deletes_the_oldest_segments() {
    let broker = BrokerProcess::start_with_config(FAST_RETENTION);
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("retention-bytes");
    create_topic_at(&bootstrap, &topic, 1, &[("segment.bytes", "1024"), ("retention.bytes", "2048")]).await;
    // ~190 bytes per batch: about 19 KB in ~20 segments.
    produce(&bootstrap, &topic, 0..100, |_| now_ms()).await;

    let consumer = kafka::consumer(&bootstrap, &[]);
    let mut watermarks = (0, 0);
    let trimmed = wait_until(Duration::from_secs(15), || {
        watermarks = consumer.fetch_watermarks(&topic, 0, TIMEOUT).expect("watermarks");
        watermarks.0 >= 60
    });
    assert!(
        trimmed,
        "log start offset still {} after retention.bytes=2048 (high {})",
        watermarks.0, watermarks.1
    );
    let (low, high) = watermarks;
    assert_eq!(high, 100, "retention must not touch the log end");
    assert!(low < high, "retention deleted the active segment's records too (low {low})");
    assert_reads_back(&bootstrap, &topic, low, high);
}

#[tokio::test]
async fn retention_ms_deletes_expired_segments_only() {
    let broker = BrokerProcess::start_with_config(FAST_RETENTION);
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("retention-ms");
    create_topic_at(&bootstrap, &topic, 1, &[("segment.bytes", "1024"), ("retention.ms", "600000")]).await;
    // 40 records stamped two hours ago (expired), then 10 fresh ones.
    let old = now_ms() - 2 * 3_600_000;
    produce(&bootstrap, &topic, 0..40, |i| old + i as i64).await;
    produce(&bootstrap, &topic, 40..50, |_| now_ms()).await;

    let consumer = kafka::consumer(&bootstrap, &[]);
    let mut watermarks = (0, 0);
    let trimmed = wait_until(Duration::from_secs(15), || {
        watermarks = consumer.fetch_watermarks(&topic, 0, TIMEOUT).expect("watermarks");
        watermarks.0 >= 30
    });
    assert!(trimmed, "expired segments not deleted: watermarks {watermarks:?}");
    let (low, high) = watermarks;
    assert_eq!(high, 50);
    assert!(low <= 40, "fresh records deleted: log start offset {low}");
    assert_reads_back(&bootstrap, &topic, low, high);
}
