"""Kafka Python clients against a real 3-controller, 3-broker Strom cluster (separate processes):
topics spread over brokers, admin requests through any broker, and a broker failover."""

import json
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, ElectionType, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic as CkNewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import unique_topic, wait_until

TIMEOUT_S = 20


def leaders(admin, topic):
    """partition → leader id from a fresh metadata request (None while the topic is unknown)."""
    metadata = admin.list_topics(topic=topic, timeout=5)
    entry = metadata.topics.get(topic)
    if entry is None or entry.error is not None:
        return None
    return {p.id: p.leader for p in entry.partitions.values()}


def test_kafka_python_across_three_brokers(cluster):
    bootstrap = cluster.bootstrap()
    topic = unique_topic("kp-cluster")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    ck_admin = AdminClient({"bootstrap.servers": bootstrap})
    placed = wait_until(lambda: leaders(ck_admin, topic), TIMEOUT_S)
    assert placed is not None and set(placed.values()) == {1, 2, 3}, placed

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v).encode(),
    )
    sent = {}
    for i in range(60):
        meta = producer.send(topic, key=f"user-{i % 7}", value={"i": i}).get(timeout=TIMEOUT_S)
        sent.setdefault(f"user-{i % 7}", set()).add(meta.partition)
    producer.flush()
    assert all(len(parts) == 1 for parts in sent.values()), "same key, same partition"

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        value_deserializer=lambda b: json.loads(b),
        consumer_timeout_ms=5000,
    )
    consumer.assign([KpTopicPartition(topic, p) for p in range(6)])
    consumer.seek_to_beginning()
    values = sorted(record.value["i"] for record in consumer)
    assert values == list(range(60))
    consumer.close()
    admin.close()


def test_admin_requests_through_any_broker(cluster):
    brokers = list(cluster.brokers.values())
    first = AdminClient({"bootstrap.servers": brokers[1].bootstrap})
    other = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
    topic = unique_topic("ck-cluster")
    first.create_topics([CkNewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(timeout=TIMEOUT_S)
    seen = wait_until(lambda: leaders(other, topic), TIMEOUT_S)
    assert seen is not None and len(seen) == 3
    other.delete_topics([topic])[topic].result(timeout=TIMEOUT_S)
    # List all topics: a metadata request naming the topic could auto-create it again, as on Kafka.
    assert wait_until(lambda: topic not in first.list_topics(timeout=5).topics, TIMEOUT_S), "deleted everywhere"


def test_broker_failover_keeps_producers_working(cluster):
    bootstrap = cluster.bootstrap()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = unique_topic("failover")
    admin.create_topics([CkNewTopic(topic, num_partitions=6, replication_factor=3)])[topic].result(timeout=TIMEOUT_S)
    before = wait_until(lambda: leaders(admin, topic), TIMEOUT_S)
    assert before is not None and 2 in before.values(), before

    cluster.brokers[2].kill()
    started = time.monotonic()
    moved = wait_until(
        lambda: (lambda l: l if l and all(v in (1, 3) for v in l.values()) else None)(leaders(admin, topic)),
        TIMEOUT_S,
    )
    elapsed = time.monotonic() - started
    assert moved is not None, "leadership moved off the dead broker"
    assert elapsed < 10, f"took {elapsed:.1f}s"

    producer = Producer({"bootstrap.servers": cluster.bootstrap(), "enable.idempotence": True})
    delivered = []
    for i in range(30):
        producer.produce(topic, key=str(i), value=f"after-{i}", on_delivery=lambda e, m: delivered.append(e))
    producer.flush(TIMEOUT_S)
    assert len(delivered) == 30 and all(e is None for e in delivered), delivered

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "unused", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(6)])
    got = set()
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < 30 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.add(message.value().decode())
    consumer.close()
    assert got == {f"after-{i}" for i in range(30)}


def partition_state(admin, topic, partition):
    """(leader, replicas, isr) of one partition from a fresh metadata request, None while unknown."""
    try:
        metadata = admin.list_topics(topic=topic, timeout=5)
    except Exception:  # noqa: BLE001 - a broker that was just killed or restarted: "not yet"
        return None
    entry = metadata.topics.get(topic)
    if entry is None or entry.error is not None or partition not in entry.partitions:
        return None
    p = entry.partitions[partition]
    return p.leader, list(p.replicas), list(p.isrs)


def test_preferred_leader_election_after_broker_restart(cluster):
    """Kill the preferred leader, restart it, and once it is back in the ISR elect it with
    AdminClient.elect_leaders(PREFERRED); a second election is not needed."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    topic = unique_topic("elect")
    admin.create_topics([CkNewTopic(topic, num_partitions=1, replication_factor=3)])[topic].result(timeout=TIMEOUT_S)
    state = wait_until(
        lambda: (lambda s: s if s and s[0] == s[1][0] and len(s[2]) == 3 else None)(partition_state(admin, topic, 0)),
        TIMEOUT_S,
    )
    assert state is not None, "partition 0 led by its preferred replica with a full ISR"
    preferred = state[0]

    cluster.brokers[preferred].kill()
    moved = wait_until(
        lambda: (lambda s: s if s and s[0] not in (preferred, -1) else None)(partition_state(admin, topic, 0)),
        TIMEOUT_S,
    )
    assert moved is not None, "leadership moved off the killed broker"

    cluster.brokers[preferred].start()
    rejoined = wait_until(
        lambda: (lambda s: s if s and preferred in s[2] else None)(partition_state(admin, topic, 0)),
        TIMEOUT_S,
    )
    assert rejoined is not None, "the restarted broker rejoined the ISR"
    assert rejoined[0] != preferred, "no automatic election within the default check interval"

    tp = TopicPartition(topic, 0)
    result = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(timeout=TIMEOUT_S)
    assert list(result.values()) == [None], result
    led = wait_until(
        lambda: (lambda s: s if s and s[0] == preferred else None)(partition_state(admin, topic, 0)),
        TIMEOUT_S,
    )
    assert led is not None, "the preferred replica leads again"

    again = admin.elect_leaders(ElectionType.PREFERRED, [tp]).result(timeout=TIMEOUT_S)
    (error,) = again.values()
    # Documented as a KafkaException; confluent-kafka 2.16 hands back the KafkaError itself.
    error = error.args[0] if isinstance(error, Exception) else error
    assert error is not None and error.code() == KafkaError.ELECTION_NOT_NEEDED, again
