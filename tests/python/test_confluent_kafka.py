"""confluent-kafka (librdkafka) against a strom broker.

Strom has no consumer groups yet: consumers set group.id (librdkafka requires it for assign) but use
assign() with explicit offsets and never commit.
"""

import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from conftest import unique_topic, wait_until

TIMEOUT_S = 10


def admin_client(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "broker.address.family": "v4"})


def make_consumer(bootstrap, **extra):
    config = {
        "bootstrap.servers": bootstrap,
        "broker.address.family": "v4",
        "group.id": unique_topic("ck-group"),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
    }
    config.update(extra)
    return Consumer(config)


def create_topic(admin, name, partitions=1, config=None):
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT_S,
        request_timeout=TIMEOUT_S,
    )
    futures[name].result(timeout=TIMEOUT_S)


def consume(consumer, count, timeout_s=15.0):
    """Polls until `count` messages arrived; raises on a consumer error."""
    messages = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        messages.append(message)
    assert len(messages) == count, f"only {len(messages)} of {count} messages arrived"
    return messages


def source_of(entry):
    return ConfigSource(int(getattr(entry.source, "value", entry.source)))


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_with_delivery_callback_and_consume(bootstrap, codec):
    admin = admin_client(bootstrap)
    topic = unique_topic(f"ck-{codec}")
    create_topic(admin, topic, partitions=2)

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "broker.address.family": "v4",
            "compression.type": codec,
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )
    delivered = []

    def on_delivery(err, msg):
        assert err is None, f"delivery failed: {err}"
        delivered.append((msg.key(), msg.value(), msg.partition(), msg.offset()))

    count = 200
    for i in range(count):
        key = f"key-{i % 7}".encode()
        value = (f"{codec}-{i:04d}-" + "payload " * 10).encode()
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0, "messages still in queue after flush"
    assert len(delivered) == count

    next_offset = {}
    partition_of_key = {}
    for key, _, partition, offset in delivered:
        assert partition_of_key.setdefault(key, partition) == partition
        assert offset == next_offset.get(partition, 0)
        next_offset[partition] = offset + 1

    consumer = make_consumer(bootstrap)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(2)])
    messages = consume(consumer, count)
    got = {(m.partition(), m.offset()): (m.key(), m.value()) for m in messages}
    for key, value, partition, offset in delivered:
        assert got[(partition, offset)] == (key, value)
    for partition in range(2):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT_S)
        assert (low, high) == (0, next_offset.get(partition, 0))
    consumer.close()


def test_watermarks_and_offsets_for_times(bootstrap):
    admin = admin_client(bootstrap)
    topic = unique_topic("ck-times")
    create_topic(admin, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4"})
    for i in range(10):
        producer.produce(topic, key=b"k", value=f"v{i}".encode(), partition=0, timestamp=(i + 1) * 1000)
    assert producer.flush(TIMEOUT_S) == 0

    consumer = make_consumer(bootstrap)
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S) == (0, 10)
    # One query per call: a request may name each partition only once.
    found = [
        consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=TIMEOUT_S)[0].offset
        for ts in (500, 1000, 4500, 10_000)
    ]
    assert found == [0, 0, 4, 9]
    beyond = consumer.offsets_for_times([TopicPartition(topic, 0, 10_001)], timeout=TIMEOUT_S)
    assert beyond[0].offset == -1, "no record at or after that time"

    # Start reading from the offset that offsets_for_times found.
    consumer.assign([TopicPartition(topic, 0, 4)])
    messages = consume(consumer, 6)
    assert [m.offset() for m in messages] == [4, 5, 6, 7, 8, 9]
    assert messages[0].value() == b"v4"
    assert messages[0].timestamp()[1] == 5000
    consumer.close()


def test_admin_topic_lifecycle(bootstrap):
    admin = admin_client(bootstrap)
    topic = unique_topic("ck-admin")
    create_topic(admin, topic, partitions=2, config={"retention.ms": "60000"})

    metadata = admin.list_topics(timeout=TIMEOUT_S)
    assert topic in metadata.topics
    assert sorted(metadata.topics[topic].partitions) == [0, 1]
    assert len(metadata.brokers) == 1

    # Creating it again fails with TOPIC_ALREADY_EXISTS.
    futures = admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    with pytest.raises(KafkaException) as excinfo:
        futures[topic].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert entries["retention.ms"].value == "60000"
    assert source_of(entries["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert entries["cleanup.policy"].value == "delete"
    assert source_of(entries["cleanup.policy"]) == ConfigSource.DEFAULT_CONFIG

    # IncrementalAlterConfigs: SET one key, DELETE (revert) another.
    alter = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("segment.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    admin.incremental_alter_configs([alter])[alter].result(timeout=TIMEOUT_S)
    entries = admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert entries["segment.ms"].value == "3600000"
    assert source_of(entries["segment.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert entries["retention.ms"].value == "604800000"
    assert source_of(entries["retention.ms"]) == ConfigSource.DEFAULT_CONFIG

    bad = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[ConfigEntry("retention.ms", "later", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException) as excinfo:
        admin.incremental_alter_configs([bad])[bad].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.INVALID_CONFIG

    # Legacy AlterConfigs reports the per-resource error too.
    bad = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "never"})
    with pytest.raises(KafkaException) as excinfo:
        admin.alter_configs([bad])[bad].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.INVALID_CONFIG

    missing = ConfigResource(ResourceType.TOPIC, unique_topic("ck-missing"))
    with pytest.raises(KafkaException) as excinfo:
        admin.describe_configs([missing])[missing].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    admin.create_partitions([NewPartitions(topic, 4)])[topic].result(timeout=TIMEOUT_S)
    assert wait_until(lambda: len(admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions) == 4)
    with pytest.raises(KafkaException) as excinfo:
        admin.create_partitions([NewPartitions(topic, 3)])[topic].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.INVALID_PARTITIONS

    admin.delete_topics([topic], operation_timeout=TIMEOUT_S)[topic].result(timeout=TIMEOUT_S)
    assert wait_until(lambda: topic not in admin.list_topics(timeout=TIMEOUT_S).topics), "still listed"


def test_delete_records(bootstrap):
    admin = admin_client(bootstrap)
    topic = unique_topic("ck-delrec")
    create_topic(admin, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4"})
    for i in range(8):
        producer.produce(topic, value=f"r{i}".encode(), partition=0)
    assert producer.flush(TIMEOUT_S) == 0

    tp = TopicPartition(topic, 0, 3)
    result = admin.delete_records([tp])
    (future,) = result.values()
    assert future.result(timeout=TIMEOUT_S).low_watermark == 3

    consumer = make_consumer(bootstrap)
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S) == (3, 8)
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    messages = consume(consumer, 5)
    assert [m.offset() for m in messages] == [3, 4, 5, 6, 7]
    assert messages[0].value() == b"r3"
    consumer.close()


def test_acl_lifecycle(bootstrap):
    """CreateAcls, DescribeAcls and DeleteAcls (stored only; nothing enforces them yet)."""
    admin = admin_client(bootstrap)
    topic = unique_topic("ck-acl")
    read = AclBinding(
        ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*",
        AclOperation.READ, AclPermissionType.ALLOW,
    )
    write = AclBinding(
        ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:bob", "*",
        AclOperation.WRITE, AclPermissionType.DENY,
    )
    for future in admin.create_acls([read, write], request_timeout=TIMEOUT_S).values():
        assert future.result(timeout=TIMEOUT_S) is None

    topic_filter = AclBindingFilter(
        ResourceType.TOPIC, topic, ResourcePatternType.ANY, None, None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    described = admin.describe_acls(topic_filter, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert sorted(described) == sorted([read, write])

    alice_only = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, "User:alice", None,
        AclOperation.ANY, AclPermissionType.ANY,
    )
    described = admin.describe_acls(alice_only, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert described == [read]

    deleted = admin.delete_acls([topic_filter], request_timeout=TIMEOUT_S)[topic_filter].result(timeout=TIMEOUT_S)
    assert sorted(deleted) == sorted([read, write])
    assert admin.describe_acls(topic_filter, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S) == []

    # The client refuses filter-only values in a binding; the broker refuses what the client lets through.
    with pytest.raises(ValueError):
        AclBinding(
            ResourceType.ANY, topic, ResourcePatternType.LITERAL, "User:alice", "*",
            AclOperation.READ, AclPermissionType.ALLOW,
        )
    bad = AclBinding(
        ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "alice", "*",
        AclOperation.READ, AclPermissionType.ALLOW,
    )
    with pytest.raises(KafkaException) as excinfo:
        admin.create_acls([bad], request_timeout=TIMEOUT_S)[bad].result(timeout=TIMEOUT_S)
    assert excinfo.value.args[0].code() == KafkaError.INVALID_REQUEST
    assert admin.describe_acls(topic_filter, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S) == []


def test_dynamic_broker_configs(bootstrap):
    """Per-broker dynamic configs: stored through the controller, described with their source, and used
    as the default of topics without their own value. (confluent-kafka refuses the empty resource name
    of the cluster-wide default client-side.)"""
    admin = admin_client(bootstrap)
    topic = unique_topic("dyn")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=TIMEOUT_S)

    broker_one = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[
            ConfigEntry("log.retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("log.segment.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    admin.incremental_alter_configs([broker_one])[broker_one].result(timeout=TIMEOUT_S)

    described = admin.describe_configs([ConfigResource(ResourceType.BROKER, "1")])
    broker_configs = list(described.values())[0].result(timeout=TIMEOUT_S)
    assert broker_configs["log.retention.ms"].value == "3600000"
    assert broker_configs["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    assert broker_configs["log.segment.bytes"].value == "1048576"
    assert broker_configs["log.segment.bytes"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value

    described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
    topic_configs = list(described.values())[0].result(timeout=TIMEOUT_S)
    assert topic_configs["retention.ms"].value == "3600000"
    assert topic_configs["segment.bytes"].value == "1048576"

    bad = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[ConfigEntry("log.retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException):
        admin.incremental_alter_configs([bad])[bad].result(timeout=TIMEOUT_S)
