//! librdkafka's AdminClient against a broker: CreateTopics (and its errors), DescribeConfigs,
//! AlterConfigs, CreatePartitions, DeleteTopics, DeleteRecords and Metadata.

use std::time::Duration;

use rdkafka::admin::{
    AlterConfig, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use strom_tests::kafka::{self, admin_options, assign, consume, create_topic, partition_count};
use strom_tests::{BrokerProcess, unique_topic, wait_until};

/// Every topic config Strom supports, by its Kafka name, with Kafka's default value.
const TOPIC_CONFIG_DEFAULTS: [(&str, &str); 12] = [
    ("cleanup.policy", "delete"),
    ("compression.type", "producer"),
    ("flush.messages", "9223372036854775807"),
    ("flush.ms", "9223372036854775807"),
    ("max.message.bytes", "1048588"),
    ("message.timestamp.type", "CreateTime"),
    ("min.insync.replicas", "1"),
    ("retention.bytes", "-1"),
    ("retention.ms", "604800000"),
    ("segment.bytes", "1073741824"),
    ("segment.ms", "604800000"),
    ("unclean.leader.election.enable", "false"),
];

/// Creates one topic and returns the broker's per-topic result code.
async fn try_create(
    admin: &rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication: i32,
    configs: &[(&str, &str)],
) -> Result<(), RDKafkaErrorCode> {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let results = admin.create_topics([&topic], &admin_options()).await.expect("CreateTopics request");
    assert_eq!(results.len(), 1);
    results.into_iter().next().expect("one result").map(|_| ()).map_err(|(_, code)| code)
}

#[tokio::test]
async fn create_topic_lists_it_in_metadata_and_rejects_a_duplicate() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let topic = unique_topic("admin-create");
    create_topic(&admin, &topic, 4, &[("retention.ms", "3600000"), ("cleanup.policy", "delete")]).await;

    let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
    let brokers = metadata.brokers();
    assert_eq!(brokers.len(), 1, "one broker");
    assert_eq!(brokers[0].id(), broker.node_id());
    assert_eq!(brokers[0].port() as u16, broker.addr().port());
    let listed = metadata.topics().iter().find(|t| t.name() == topic).expect("topic listed");
    assert!(listed.error().is_none(), "topic error {:?}", listed.error());
    let mut partitions: Vec<i32> = listed.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    assert_eq!(partitions, vec![0, 1, 2, 3]);
    for partition in listed.partitions() {
        assert_eq!(partition.leader(), broker.node_id(), "leader of partition {}", partition.id());
        assert_eq!(partition.replicas(), &[broker.node_id()]);
        assert_eq!(partition.isr(), &[broker.node_id()]);
    }

    assert_eq!(try_create(&admin, &topic, 4, 1, &[]).await, Err(RDKafkaErrorCode::TopicAlreadyExists));
    assert_eq!(try_create(&admin, &topic, 1, 1, &[]).await, Err(RDKafkaErrorCode::TopicAlreadyExists));
}

#[tokio::test]
async fn invalid_topic_names_are_rejected() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let too_long = "x".repeat(250);
    for name in ["bad/name", too_long.as_str(), ".", "..", "spaces are bad", "ümlaut"] {
        assert_eq!(
            try_create(&admin, name, 1, 1, &[]).await,
            Err(RDKafkaErrorCode::InvalidTopic),
            "name {name:?}"
        );
    }
    // 249 characters is the longest legal name.
    let longest = "y".repeat(249);
    assert_eq!(try_create(&admin, &longest, 1, 1, &[]).await, Ok(()));
    assert_eq!(partition_count(&kafka::consumer(&broker.bootstrap(), &[]), &longest), Some(1));
}

#[tokio::test]
async fn replication_factor_above_broker_count_is_rejected() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let topic = unique_topic("admin-rf");
    assert_eq!(try_create(&admin, &topic, 1, 3, &[]).await, Err(RDKafkaErrorCode::InvalidReplicationFactor));
    assert_eq!(partition_count(&kafka::consumer(&broker.bootstrap(), &[]), &topic), None, "not created");
}

#[tokio::test]
async fn invalid_topic_configs_are_rejected() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let cases: [(&str, &str); 4] = [
        ("no.such.config", "1"),
        ("retention.ms", "not-a-number"),
        ("cleanup.policy", "shred"),
        ("message.timestamp.type", "WallClock"),
    ];
    let consumer = kafka::consumer(&broker.bootstrap(), &[]);
    for (key, value) in cases {
        let topic = unique_topic("admin-badcfg");
        assert_eq!(
            try_create(&admin, &topic, 1, 1, &[(key, value)]).await,
            Err(RDKafkaErrorCode::InvalidConfig),
            "{key}={value}"
        );
        assert_eq!(partition_count(&consumer, &topic), None, "{key}={value}: topic must not exist");
    }
    // Invalid partition count.
    let topic = unique_topic("admin-badparts");
    assert_eq!(try_create(&admin, &topic, 0, 1, &[]).await, Err(RDKafkaErrorCode::InvalidPartitions));
}

#[tokio::test]
async fn describe_configs_lists_every_topic_config_with_its_source() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let topic = unique_topic("admin-describe");
    create_topic(&admin, &topic, 1, &[("retention.ms", "123456"), ("flush.messages", "1")]).await;

    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &admin_options())
        .await
        .expect("DescribeConfigs request");
    let resource = results.into_iter().next().expect("one resource").expect("describe ok");
    let entries = resource.entry_map();
    for (name, default) in TOPIC_CONFIG_DEFAULTS {
        let entry = entries.get(name).unwrap_or_else(|| panic!("config {name} missing"));
        match name {
            "retention.ms" => {
                assert_eq!(entry.value.as_deref(), Some("123456"));
                assert_eq!(entry.source, ConfigSource::DynamicTopic, "{name}");
                assert!(!entry.is_default, "{name}");
            }
            "flush.messages" => {
                assert_eq!(entry.value.as_deref(), Some("1"));
                assert_eq!(entry.source, ConfigSource::DynamicTopic, "{name}");
            }
            _ => {
                assert_eq!(entry.value.as_deref(), Some(default), "{name}");
                assert_eq!(entry.source, ConfigSource::Default, "{name}");
                assert!(entry.is_default, "{name}");
            }
        }
        assert!(!entry.is_sensitive, "{name}");
    }

    // An unknown topic describes as nothing. (rdkafka 0.39 drops per-resource error codes and always
    // returns Ok; the UNKNOWN_TOPIC_OR_PARTITION code itself is checked by the confluent-kafka tests.)
    let missing = unique_topic("admin-missing");
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&missing)], &admin_options())
        .await
        .expect("DescribeConfigs request");
    match results.into_iter().next().expect("one resource") {
        Ok(resource) => {
            assert!(resource.entries.is_empty(), "configs of a missing topic: {:?}", resource.entries)
        }
        Err(code) => assert_eq!(code, RDKafkaErrorCode::UnknownTopicOrPartition),
    }
}

#[tokio::test]
async fn alter_configs_replaces_the_topic_overrides() {
    let broker = BrokerProcess::start();
    let admin = kafka::admin(&broker.bootstrap());
    let topic = unique_topic("admin-alter");
    create_topic(&admin, &topic, 1, &[("flush.messages", "1")]).await;

    let alter = AlterConfig::new(ResourceSpecifier::Topic(&topic))
        .set("retention.ms", "1000")
        .set("max.message.bytes", "20000");
    let results = admin.alter_configs([&alter], &admin_options()).await.expect("AlterConfigs request");
    assert!(results[0].is_ok(), "alter failed: {:?}", results[0]);

    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &admin_options())
        .await
        .expect("DescribeConfigs request");
    let resource = results.into_iter().next().expect("one resource").expect("describe ok");
    let get = |name: &str| {
        let entry = resource.get(name).unwrap_or_else(|| panic!("{name} missing"));
        (entry.value.clone().unwrap_or_default(), entry.source == ConfigSource::DynamicTopic)
    };
    assert_eq!(get("retention.ms"), ("1000".to_string(), true));
    assert_eq!(get("max.message.bytes"), ("20000".to_string(), true));
    // Legacy AlterConfigs replaces the whole set of overrides: flush.messages is back to default.
    assert_eq!(get("flush.messages"), ("9223372036854775807".to_string(), false));

    // Invalid values and unknown topics change nothing. (rdkafka 0.39 drops per-resource error
    // codes of AlterConfigs; the INVALID_CONFIG code itself is checked by the confluent-kafka tests.)
    let bad = AlterConfig::new(ResourceSpecifier::Topic(&topic)).set("retention.ms", "soon");
    admin.alter_configs([&bad], &admin_options()).await.expect("AlterConfigs request");
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic)], &admin_options())
        .await
        .expect("DescribeConfigs request");
    let resource = results.into_iter().next().expect("one resource").expect("describe ok");
    let retention = resource.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("1000"), "invalid AlterConfigs must not apply");
    assert_eq!(resource.get("max.message.bytes").and_then(|e| e.value.as_deref()), Some("20000"));

    let missing = unique_topic("admin-missing");
    let alter = AlterConfig::new(ResourceSpecifier::Topic(&missing)).set("retention.ms", "1000");
    admin.alter_configs([&alter], &admin_options()).await.expect("AlterConfigs request");
    let consumer = kafka::consumer(&broker.bootstrap(), &[]);
    assert_eq!(partition_count(&consumer, &missing), None, "AlterConfigs must not create a topic");
}

#[tokio::test]
async fn create_partitions_increases_but_never_decreases() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let admin = kafka::admin(&bootstrap);
    let topic = unique_topic("admin-partitions");
    create_topic(&admin, &topic, 2, &[]).await;

    let results = admin
        .create_partitions([&NewPartitions::new(&topic, 5)], &admin_options())
        .await
        .expect("CreatePartitions request");
    assert_eq!(results[0], Ok(topic.clone()));
    let consumer = kafka::consumer(&bootstrap, &[]);
    assert!(
        wait_until(Duration::from_secs(10), || partition_count(&consumer, &topic) == Some(5)),
        "metadata shows {:?} partitions, want 5",
        partition_count(&consumer, &topic)
    );

    for (count, what) in [(3, "decrease"), (5, "same count")] {
        let results = admin
            .create_partitions([&NewPartitions::new(&topic, count)], &admin_options())
            .await
            .expect("CreatePartitions request");
        assert_eq!(results[0], Err((topic.clone(), RDKafkaErrorCode::InvalidPartitions)), "{what}");
    }
    assert_eq!(partition_count(&consumer, &topic), Some(5));

    // The new partitions take records.
    let producer = kafka::producer(&bootstrap, &[]);
    let delivery = producer
        .send(
            FutureRecord::to(&topic).partition(4).key("k").payload("in new partition"),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("produce to partition 4: {e:?}"));
    assert_eq!((delivery.partition, delivery.offset), (4, 0));

    let missing = unique_topic("admin-missing");
    let results = admin
        .create_partitions([&NewPartitions::new(&missing, 3)], &admin_options())
        .await
        .expect("CreatePartitions request");
    assert_eq!(results[0], Err((missing.clone(), RDKafkaErrorCode::UnknownTopicOrPartition)));
}

#[tokio::test]
async fn deleted_topic_disappears_from_metadata() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let admin = kafka::admin(&bootstrap);
    let topic = unique_topic("admin-delete");
    let kept = unique_topic("admin-kept");
    create_topic(&admin, &topic, 3, &[]).await;
    create_topic(&admin, &kept, 1, &[]).await;
    let consumer = kafka::consumer(&bootstrap, &[]);
    assert_eq!(partition_count(&consumer, &topic), Some(3));

    let results = admin.delete_topics(&[&topic], &admin_options()).await.expect("DeleteTopics request");
    assert_eq!(results, vec![Ok(topic.clone())]);
    assert!(
        wait_until(Duration::from_secs(10), || partition_count(&consumer, &topic).is_none()),
        "deleted topic still listed"
    );
    assert_eq!(partition_count(&consumer, &kept), Some(1), "other topic untouched");

    let results = admin.delete_topics(&[&topic], &admin_options()).await.expect("DeleteTopics request");
    assert_eq!(results, vec![Err((topic.clone(), RDKafkaErrorCode::UnknownTopicOrPartition))]);

    // The name can be used again, starting from offset 0.
    create_topic(&admin, &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[]);
    let delivery = producer
        .send(FutureRecord::to(&topic).key("k").payload("reborn"), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce after re-create: {e:?}"));
    assert_eq!((delivery.partition, delivery.offset), (0, 0));
}

#[tokio::test]
async fn delete_records_moves_the_low_watermark() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let admin = kafka::admin(&bootstrap);
    let topic = unique_topic("admin-delete-records");
    create_topic(&admin, &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[]);
    for i in 0..10 {
        let payload = format!("record-{i}");
        producer
            .send(FutureRecord::to(&topic).key("k").payload(&payload), Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce {i}: {e:?}"));
    }

    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(&topic, 0, Offset::Offset(4)).expect("offset");
    let result = admin.delete_records(&offsets, &admin_options()).await.expect("DeleteRecords request");
    let element = &result.elements()[0];
    assert_eq!(element.error(), Ok(()));
    assert_eq!(element.offset(), Offset::Offset(4), "low watermark after delete");

    let consumer = kafka::consumer(&bootstrap, &[]);
    let watermarks = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!(watermarks, (4, 10));
    assign(&consumer, &topic, [0], Offset::Beginning);
    let messages = consume(&consumer, 6, Duration::from_secs(15));
    assert_eq!(messages.iter().map(|m| m.offset()).collect::<Vec<_>>(), vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(messages[0].payload(), Some(&b"record-4"[..]));

    // Beyond the high watermark is out of range and changes nothing.
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(&topic, 0, Offset::Offset(11)).expect("offset");
    let result = admin.delete_records(&offsets, &admin_options()).await.expect("DeleteRecords request");
    assert_eq!(
        result.elements()[0].error(),
        Err(rdkafka::error::KafkaError::OffsetFetch(RDKafkaErrorCode::OffsetOutOfRange))
    );
    let watermarks = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!(watermarks, (4, 10));

    // Offset::End deletes everything.
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(&topic, 0, Offset::End).expect("offset");
    let result = admin.delete_records(&offsets, &admin_options()).await.expect("DeleteRecords request");
    assert_eq!(result.elements()[0].offset(), Offset::Offset(10));
    let watermarks = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!(watermarks, (10, 10));
}
