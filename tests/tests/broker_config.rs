//! The broker's TOML config (`--config`) as clients see it: node id, topic auto-creation and its
//! partition count, and `[topic_defaults]` applied to topics and described as broker config.

use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{ConfigSource, ResourceSpecifier};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use strom_tests::kafka::{self, admin_options, create_topic, partition_count};
use strom_tests::wire::Connection;
use strom_tests::{BrokerProcess, unique_topic, wait_until};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;

/// Metadata v12 for one topic, asking the broker to auto-create it.
async fn metadata_auto_create(conn: &mut Connection, topic: &str) -> MetadataResponse {
    let request = MetadataRequest::default().with_allow_auto_topic_creation(true).with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(topic.to_string())))),
    ]));
    conn.call(12, &request).await
}

#[tokio::test]
async fn node_id_from_config_is_advertised() {
    let broker = BrokerProcess::start_with_config("node_id = 7\n");
    assert_eq!(broker.node_id(), 7, "ready line node_id");
    let topic = unique_topic("config-node");
    let admin = kafka::admin(&broker.bootstrap());
    create_topic(&admin, &topic, 2, &[]).await;
    let metadata = admin.inner().fetch_metadata(Some(&topic), Duration::from_secs(10)).expect("metadata");
    assert_eq!(metadata.brokers().iter().map(|b| b.id()).collect::<Vec<_>>(), vec![7]);
    assert_eq!(metadata.orig_broker_id(), 7);
    for partition in metadata.topics()[0].partitions() {
        assert_eq!(partition.leader(), 7);
    }
}

#[tokio::test]
async fn auto_created_topics_use_num_partitions() {
    let broker = BrokerProcess::start_with_config("num_partitions = 3\n");
    let topic = unique_topic("config-auto");
    let mut conn = Connection::connect(broker.addr()).await;
    let mut last = None;
    let mut ready = false;
    for _ in 0..100 {
        let response = metadata_auto_create(&mut conn, &topic).await;
        let code = response.topics[0].error_code;
        assert!(
            code == 0 || code == LEADER_NOT_AVAILABLE,
            "auto-create metadata error code {code}, want 0 or LEADER_NOT_AVAILABLE"
        );
        if code == 0 {
            last = Some(response);
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "auto-created topic never became available");
    let response = last.expect("response");
    assert_eq!(response.topics[0].partitions.len(), 3);
    // Producing to a fresh name through librdkafka auto-creates it too.
    let other = unique_topic("config-auto-produce");
    let producer = kafka::producer(&broker.bootstrap(), &[]);
    let delivery = producer
        .send(FutureRecord::to(&other).key("k").payload("v"), Duration::from_secs(15))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce to an auto-created topic: {e:?}"));
    assert!((0..3).contains(&delivery.partition));
    let consumer = kafka::consumer(&broker.bootstrap(), &[]);
    assert_eq!(partition_count(&consumer, &other), Some(3));
}

#[tokio::test]
async fn auto_create_can_be_disabled() {
    let broker = BrokerProcess::start_with_config("auto_create_topics_enable = false\n");
    let topic = unique_topic("config-no-auto");
    let mut conn = Connection::connect(broker.addr()).await;
    let response = metadata_auto_create(&mut conn, &topic).await;
    assert_eq!(response.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    let consumer = kafka::consumer(&broker.bootstrap(), &[]);
    assert!(
        !wait_until(Duration::from_millis(500), || partition_count(&consumer, &topic).is_some()),
        "topic was auto-created although auto_create_topics_enable = false"
    );
    // Explicit creation still works.
    create_topic(&kafka::admin(&broker.bootstrap()), &topic, 1, &[]).await;
    assert_eq!(partition_count(&consumer, &topic), Some(1));
}

#[tokio::test]
async fn topic_defaults_apply_and_are_described_as_broker_config() {
    let broker = BrokerProcess::start_with_config(
        "[topic_defaults]\nretention_ms = 3600000\nmax_message_bytes = 5000\n",
    );
    let bootstrap = broker.bootstrap();
    let admin = kafka::admin(&bootstrap);
    let plain = unique_topic("config-defaults");
    let overridden = unique_topic("config-override");
    create_topic(&admin, &plain, 1, &[]).await;
    create_topic(&admin, &overridden, 1, &[("max.message.bytes", "100000")]).await;

    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&plain)], &admin_options())
        .await
        .expect("DescribeConfigs request");
    let resource = results.into_iter().next().expect("one resource").expect("describe ok");
    let retention = resource.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::StaticBroker);
    let max_bytes = resource.get("max.message.bytes").expect("max.message.bytes");
    assert_eq!(max_bytes.value.as_deref(), Some("5000"));
    assert_eq!(max_bytes.source, ConfigSource::StaticBroker);
    let segment = resource.get("segment.bytes").expect("segment.bytes");
    assert_eq!(segment.source, ConfigSource::Default);

    let producer = kafka::producer(&bootstrap, &[("compression.type", "none")]);
    let big = vec![b'x'; 6000];
    let result =
        producer.send(FutureRecord::to(&plain).key("k").payload(&big), Duration::from_secs(10)).await;
    assert!(
        matches!(result, Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _))),
        "6000-byte record under a 5000-byte broker default: {:?}",
        result.map(|d| d.offset).map_err(|(e, _)| e)
    );
    let delivery = producer
        .send(FutureRecord::to(&overridden).key("k").payload(&big), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("topic override must win over the broker default: {e:?}"));
    assert_eq!(delivery.offset, 0);
}
