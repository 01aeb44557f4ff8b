//! Idempotent producer semantics over the raw protocol: InitProducerId, duplicate batches appended
//! once, sequence gaps rejected, and producer state that survives a broker crash.

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, InitProducerIdRequest, ListOffsetsRequest, ProduceRequest, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use strom_tests::kafka::create_topic_at;
use strom_tests::wire::{BatchRecord, BatchSpec, Connection};
use strom_tests::{BrokerProcess, unique_topic};

const NONE: i16 = 0;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;

/// A producer id and epoch from InitProducerId v4 (no transactional id).
async fn init_producer_id(conn: &mut Connection) -> (i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = conn.call(4, &request).await;
    assert_eq!(response.error_code, NONE, "InitProducerId error");
    assert!(response.producer_id.0 >= 0, "producer id {}", response.producer_id.0);
    assert!(response.producer_epoch >= 0, "producer epoch {}", response.producer_epoch);
    (response.producer_id.0, response.producer_epoch)
}

/// Produce v9 (acks=-1) of one batch to partition 0; returns (error_code, base_offset).
async fn produce(conn: &mut Connection, topic: &str, batch: &BatchSpec) -> (i16, i64) {
    let request = ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![
                PartitionProduceData::default().with_index(0).with_records(Some(batch.encode())),
            ]),
    ]);
    let response = conn.call(9, &request).await;
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

/// ListOffsets v7 latest (the log end offset) of partition 0.
async fn log_end_offset(conn: &mut Connection, topic: &str) -> i64 {
    let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![
                ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1),
            ]),
    ]);
    let response = conn.call(7, &request).await;
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, NONE, "ListOffsets error");
    partition.offset
}

fn records(prefix: &str, count: usize) -> Vec<BatchRecord> {
    (0..count).map(|i| BatchRecord::new(b"k", format!("{prefix}-{i}").as_bytes())).collect()
}

/// A retried batch is acknowledged (with its original offset, or as DUPLICATE_SEQUENCE_NUMBER)
/// without being appended again.
fn assert_duplicate_ack(result: (i16, i64), original_base_offset: i64) {
    match result {
        (NONE, base_offset) => {
            assert_eq!(base_offset, original_base_offset, "duplicate acked at another offset")
        }
        (DUPLICATE_SEQUENCE_NUMBER, _) => {}
        other => panic!("duplicate batch: (error_code, base_offset) = {other:?}"),
    }
}

#[tokio::test]
async fn duplicates_are_appended_once_and_gaps_rejected() {
    let broker = BrokerProcess::start();
    let topic = unique_topic("idempotent");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[]).await;
    let mut conn = Connection::connect(broker.addr()).await;
    let (producer_id, epoch) = init_producer_id(&mut conn).await;

    let first = BatchSpec::idempotent(producer_id, epoch, 0, records("a", 3));
    assert_eq!(produce(&mut conn, &topic, &first).await, (NONE, 0));
    assert_duplicate_ack(produce(&mut conn, &topic, &first).await, 0);
    assert_eq!(log_end_offset(&mut conn, &topic).await, 3, "duplicate appended");

    // Sequence 5 after 0..=2 leaves a gap.
    let gap = BatchSpec::idempotent(producer_id, epoch, 5, records("gap", 1));
    assert_eq!(produce(&mut conn, &topic, &gap).await.0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_eq!(log_end_offset(&mut conn, &topic).await, 3, "out-of-order batch appended");

    let next = BatchSpec::idempotent(producer_id, epoch, 3, records("b", 2));
    assert_eq!(produce(&mut conn, &topic, &next).await, (NONE, 3));
    // An older batch (not the latest) is still recognised as a duplicate.
    assert_duplicate_ack(produce(&mut conn, &topic, &first).await, 0);
    assert_eq!(log_end_offset(&mut conn, &topic).await, 5);

    // A second producer has its own sequence space.
    let (other_id, other_epoch) = init_producer_id(&mut conn).await;
    assert_ne!(other_id, producer_id, "InitProducerId handed out the same id twice");
    let other = BatchSpec::idempotent(other_id, other_epoch, 0, records("c", 1));
    assert_eq!(produce(&mut conn, &topic, &other).await, (NONE, 5));

    // Non-idempotent batches are never deduplicated.
    let plain = BatchSpec::plain(records("plain", 1));
    assert_eq!(produce(&mut conn, &topic, &plain).await, (NONE, 6));
    assert_eq!(produce(&mut conn, &topic, &plain).await, (NONE, 7));
}

#[tokio::test]
async fn producer_state_survives_kill_9() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("idempotent-crash");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[("flush.messages", "1")]).await;
    let mut conn = Connection::connect(broker.addr()).await;
    let (producer_id, epoch) = init_producer_id(&mut conn).await;
    let first = BatchSpec::idempotent(producer_id, epoch, 0, records("a", 3));
    let second = BatchSpec::idempotent(producer_id, epoch, 3, records("b", 1));
    assert_eq!(produce(&mut conn, &topic, &first).await, (NONE, 0));
    assert_eq!(produce(&mut conn, &topic, &second).await, (NONE, 3));
    drop(conn);

    broker.kill9();
    broker.restart();

    // The client never saw the ack of `second` and retries it after the crash: no second copy.
    let mut conn = Connection::connect(broker.addr()).await;
    assert_duplicate_ack(produce(&mut conn, &topic, &second).await, 3);
    assert_eq!(log_end_offset(&mut conn, &topic).await, 4, "retried batch appended twice after restart");
    let gap = BatchSpec::idempotent(producer_id, epoch, 9, records("gap", 1));
    assert_eq!(produce(&mut conn, &topic, &gap).await.0, OUT_OF_ORDER_SEQUENCE_NUMBER);
    let third = BatchSpec::idempotent(producer_id, epoch, 4, records("c", 1));
    assert_eq!(produce(&mut conn, &topic, &third).await, (NONE, 4));

    // Producer ids handed out after the restart do not collide with the one before.
    let (new_id, _) = init_producer_id(&mut conn).await;
    assert_ne!(new_id, producer_id, "producer id reused after restart");
}
