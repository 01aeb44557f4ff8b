"""kafka-python 3.x against a strom broker: the patterns of its tutorials.

Strom has no consumer groups yet: consumers use group_id=None with manual assign().
kafka-python 3.x producers are idempotent by default (InitProducerId + sequence numbers); these tests
keep that default.
"""

import json
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import (
    InvalidPartitionsError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)

from conftest import unique_topic, wait_until


def make_producer(bootstrap, **extra):
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        value_serializer=lambda v: json.dumps(v).encode("utf-8"),
        key_serializer=lambda k: k.encode("utf-8") if k is not None else None,
        request_timeout_ms=10000,
        **extra,
    )


def make_consumer(bootstrap, **extra):
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10000,
        value_deserializer=lambda b: json.loads(b.decode("utf-8")),
        key_deserializer=lambda b: b.decode("utf-8") if b is not None else None,
        request_timeout_ms=10000,
        **extra,
    )


def make_admin(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)


def create_topic(bootstrap, name, partitions=1, configs=None):
    admin = make_admin(bootstrap)
    try:
        admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=configs or {})]
        )
    finally:
        admin.close()


def poll_records(consumer, count, timeout_s=15.0):
    """Polls until `count` records arrived; returns them in arrival order."""
    records = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    assert len(records) >= count, f"only {len(records)} of {count} records arrived"
    return records


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_json_producer_and_assigned_consumer(bootstrap, compression):
    topic = unique_topic("kp-json")
    create_topic(bootstrap, topic, partitions=3)

    producer = make_producer(bootstrap, compression_type=compression)
    assert producer.config["enable_idempotence"] is True, "kafka-python 3.x default"
    sent = []
    for i in range(30):
        key = f"user-{i % 5}"
        value = {"n": i, "user": key, "tags": ["a", "b"], "nested": {"ok": True}}
        metadata = producer.send(topic, key=key, value=value).get(timeout=10)
        assert metadata.topic == topic
        assert 0 <= metadata.partition < 3
        sent.append((key, value, metadata.partition, metadata.offset))
    producer.flush()
    producer.close()

    partition_of_key = {}
    next_offset = {}
    for key, _, partition, offset in sent:
        assert partition_of_key.setdefault(key, partition) == partition, f"key {key} moved partitions"
        assert offset == next_offset.get(partition, 0), f"partition {partition}: offset {offset}"
        next_offset[partition] = offset + 1

    consumer = make_consumer(bootstrap)
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    records = poll_records(consumer, len(sent))
    consumer.close()
    got = {(r.partition, r.offset): (r.key, r.value) for r in records}
    assert len(records) == len(sent), "duplicates delivered"
    for key, value, partition, offset in sent:
        assert got[(partition, offset)] == (key, value)


def test_seek_and_offset_lookups(bootstrap):
    topic = unique_topic("kp-seek")
    create_topic(bootstrap, topic, partitions=1)
    tp = TopicPartition(topic, 0)

    producer = make_producer(bootstrap)
    for i in range(10):
        md = producer.send(topic, key="k", value={"i": i}, timestamp_ms=(i + 1) * 1000).get(timeout=10)
        assert (md.partition, md.offset) == (0, i)
    producer.flush()

    consumer = make_consumer(bootstrap)
    consumer.assign([tp])
    assert consumer.beginning_offsets([tp]) == {tp: 0}
    assert consumer.end_offsets([tp]) == {tp: 10}

    consumer.seek_to_beginning(tp)
    first = poll_records(consumer, 1)[0]
    assert (first.offset, first.value) == (0, {"i": 0})
    assert first.timestamp == 1000

    consumer.seek(tp, 7)
    record = poll_records(consumer, 1)[0]
    assert (record.offset, record.value) == (7, {"i": 7})

    consumer.seek_to_end(tp)
    assert consumer.position(tp) == 10

    found = consumer.offsets_for_times({tp: 3500})
    assert found[tp].offset == 3
    assert found[tp].timestamp == 4000
    assert consumer.offsets_for_times({tp: 1000})[tp].offset == 0
    assert consumer.offsets_for_times({tp: 10_001})[tp] is None, "no record at or after that time"

    # Positioned at the end, only new records arrive.
    md = producer.send(topic, key="k", value={"i": "late"}).get(timeout=10)
    assert md.offset == 10
    late = poll_records(consumer, 1)[0]
    assert (late.offset, late.value) == (10, {"i": "late"})
    assert consumer.end_offsets([tp]) == {tp: 11}
    producer.close()
    consumer.close()


def test_admin_create_list_describe_delete(bootstrap):
    topic = unique_topic("kp-admin")
    admin = make_admin(bootstrap)
    admin.create_topics(
        [NewTopic(topic, num_partitions=3, replication_factor=1, topic_configs={"retention.ms": "60000"})]
    )
    assert topic in admin.list_topics()
    described = admin.describe_topics([topic])
    assert len(described) == 1
    assert described[0]["name"] == topic
    assert described[0]["error_code"] == 0
    assert sorted(p["partition_index"] for p in described[0]["partitions"]) == [0, 1, 2]

    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    topic_configs = configs["topic"][topic]
    assert topic_configs["retention.ms"]["value"] == "60000"
    assert topic_configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    # Default filter is 'modified': nothing else was overridden.
    assert set(topic_configs) == {"retention.ms"}
    everything = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all"
    )["topic"][topic]
    assert everything["cleanup.policy"]["value"] == "delete"
    assert everything["segment.bytes"]["value"] == "1073741824"
    assert everything["segment.bytes"]["config_source"] == "DEFAULT_CONFIG"

    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])

    admin.delete_topics([topic])
    assert wait_until(lambda: topic not in admin.list_topics()), "deleted topic still listed"
    with pytest.raises(UnknownTopicOrPartitionError):
        admin.delete_topics([topic])
    admin.close()


def test_admin_alter_configs_and_create_partitions(bootstrap):
    topic = unique_topic("kp-alter")
    admin = make_admin(bootstrap)
    admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1, "configs": {"flush.ms": "5000"}}})

    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "120000"})])
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
    assert configs["retention.ms"]["value"] == "120000"
    assert configs["flush.ms"]["value"] == "5000", "other overrides kept"

    admin.create_partitions({topic: 5})
    assert wait_until(
        lambda: len(admin.describe_topics([topic])[0]["partitions"]) == 5
    ), "partition count did not grow to 5"
    with pytest.raises(InvalidPartitionsError):
        admin.create_partitions({topic: 4})

    # The new partitions take records.
    producer = make_producer(bootstrap)
    md = producer.send(topic, key="k", value={"p": 4}, partition=4).get(timeout=10)
    assert (md.partition, md.offset) == (4, 0)
    producer.close()
    admin.close()
