"""Replication seen through the Python clients, against a real 3-controller, 3-broker Strom cluster
(separate processes, `cluster` fixture), each scenario with confluent-kafka (librdkafka) and with
kafka-python:

- acks=all with min.insync.replicas=2 while the partition leader is killed with SIGKILL mid-stream:
  the producer keeps going on the new leader and every acknowledged value is read back at the offset
  it was acknowledged at; the killed broker restarts on its data directory and rejoins the ISR.
- An ISR below min.insync.replicas (both followers killed and fenced) refuses acks=all with
  NOT_ENOUGH_REPLICAS while acks=1 still appends, and the high watermark holds that acks=1 record back
  from consumers until the followers are restarted and rejoin.
- The ISR in Metadata shrinks when a follower is killed (or frozen with SIGSTOP) and grows back once
  it is restarted (or resumed); acks=all keeps committing with two of three in sync.

Partition state (leader, replicas, ISR) comes from each client's own metadata API: confluent-kafka
`AdminClient.list_topics()` and kafka-python `KafkaAdminClient.describe_topics()`.
"""

import collections
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic as CkNewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient, NewTopic as KpNewTopic
from kafka.errors import NotEnoughReplicasError

from conftest import poll_until, unique_topic

# Failover needs the session timeout (2 s) to fence the dead broker plus a controller round trip; a
# restarted broker must register, heartbeat and catch up. 30 s is far above either.
TIMEOUT_S = 30
# Values produced in the leader-kill scenario, and how many may be unacknowledged at any time.
VALUES = 300
IN_FLIGHT = 20
# How long a consumer must keep seeing nothing past the high watermark.
QUIET_WINDOW_S = 1.5
MIN_ISR = {"min.insync.replicas": "2"}

Partition = collections.namedtuple("Partition", "leader replicas isr")


# --- partition state through each client's metadata ---------------------------------------------


def ck_partition(admin, topic, partition=0):
    """Leader, replicas and ISR of `topic`-`partition` per a confluent-kafka metadata request (all
    topics, so it never auto-creates); None while the topic is unknown."""
    entry = admin.list_topics(timeout=5).topics.get(topic)
    if entry is None or entry.error is not None or partition not in entry.partitions:
        return None
    p = entry.partitions[partition]
    return Partition(p.leader, sorted(p.replicas), sorted(p.isrs))


def kp_partition(admin, topic, partition=0):
    """Leader, replicas and ISR of `topic`-`partition` per kafka-python `describe_topics`."""
    for entry in admin.describe_topics([topic]):
        if entry["name"] != topic or entry["error_code"] != 0:
            return None
        for p in entry["partitions"]:
            if p["partition_index"] == partition:
                return Partition(p["leader_id"], sorted(p["replica_nodes"]), sorted(p["isr_nodes"]))
    return None


def wait_partition(probe, check, what):
    """Polls `probe()` (a Partition or None) until `check` holds; returns that Partition."""
    return poll_until(probe, lambda s: s is not None and check(s), TIMEOUT_S, what)


def ck_admin(cluster):
    """A confluent-kafka admin client for polling partition state. librdkafka sends a metadata request
    to any broker whose connection is up, including one frozen with SIGSTOP, and gives up on it only
    after `socket.timeout.ms` (default 60 s); a short one lets it move on to a live broker."""
    return AdminClient({"bootstrap.servers": cluster.bootstrap(), "socket.timeout.ms": 3000})


def wait_for_brokers(cluster):
    """Waits until Metadata lists all three brokers (it lists only unfenced ones), so a topic with
    replication factor 3 can be placed."""
    admin = ck_admin(cluster)
    poll_until(lambda: admin.list_topics(timeout=5).brokers, lambda b: sorted(b) == [1, 2, 3], TIMEOUT_S,
               "three unfenced brokers in Metadata")


def ck_create(cluster, topic):
    """Creates `topic` (1 partition, RF 3, min.insync.replicas=2) with confluent-kafka; returns the
    admin client and the partition once it has a leader and a full ISR."""
    wait_for_brokers(cluster)
    admin = ck_admin(cluster)
    futures = admin.create_topics([CkNewTopic(topic, num_partitions=1, replication_factor=3, config=MIN_ISR)])
    futures[topic].result(timeout=TIMEOUT_S)
    state = wait_partition(lambda: ck_partition(admin, topic), lambda s: s.leader > 0 and s.isr == [1, 2, 3],
                           "a leader and a full ISR")
    assert state.replicas == [1, 2, 3], state
    return admin, state


def kp_create(cluster, topic):
    """kafka-python counterpart of `ck_create`."""
    wait_for_brokers(cluster)
    # Like `ck_admin`: a short request timeout so a request stuck on a frozen broker is retried soon.
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap(), request_timeout_ms=3000)
    admin.create_topics([KpNewTopic(topic, num_partitions=1, replication_factor=3, topic_configs=MIN_ISR)])
    state = wait_partition(lambda: kp_partition(admin, topic), lambda s: s.leader > 0 and s.isr == [1, 2, 3],
                           "a leader and a full ISR")
    assert state.replicas == [1, 2, 3], state
    return admin, state


# --- reading a partition back ---------------------------------------------------------------------


def ck_consumer(bootstrap):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": unique_topic("ck-replication"),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    })


def ck_poll(consumer, read, until, what, timeout_s=TIMEOUT_S):
    """Polls `consumer` into `read` (offset → value) until `until(read)` holds."""
    deadline = time.monotonic() + timeout_s
    while not until(read):
        assert time.monotonic() < deadline, f"{what}: not read within {timeout_s}s; read {read}"
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error() is not None:
            # A consumer may see transport errors while brokers come and go; they are retried.
            if message.error().fatal():
                raise KafkaException(message.error())
            continue
        read[message.offset()] = message.value().decode()
    return read


def ck_read_all(bootstrap, topic):
    """Every record of `topic`-0 below its high watermark: (high watermark, {offset: value})."""
    consumer = ck_consumer(bootstrap)
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        read = ck_poll(consumer, {}, lambda r: high == 0 or max(r, default=-1) >= high - 1, "the whole partition")
        return high, read
    finally:
        consumer.close()


def kp_consumer(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=10000)
    consumer.assign([KpTopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    return consumer


def kp_poll(consumer, read, until, what, timeout_s=TIMEOUT_S):
    """kafka-python counterpart of `ck_poll`."""
    deadline = time.monotonic() + timeout_s
    while not until(read):
        assert time.monotonic() < deadline, f"{what}: not read within {timeout_s}s; read {read}"
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                read[record.offset] = record.value.decode()
    return read


def kp_read_all(bootstrap, topic):
    consumer = kp_consumer(bootstrap, topic)
    try:
        high = consumer.end_offsets([KpTopicPartition(topic, 0)])[KpTopicPartition(topic, 0)]
        read = kp_poll(consumer, {}, lambda r: high == 0 or max(r, default=-1) >= high - 1, "the whole partition")
        return high, read
    finally:
        consumer.close()


def assert_acked_read_back(acked, high, read):
    """Each acknowledged value is in the log at exactly the offset it was acknowledged at."""
    assert len(set(acked.values())) == len(acked), "two values acknowledged at the same offset"
    assert max(acked.values()) < high, f"acknowledged offsets {max(acked.values())} ≥ high watermark {high}"
    wrong = {value: (offset, read.get(offset)) for value, offset in acked.items() if read.get(offset) != value}
    assert not wrong, f"{len(wrong)} acknowledged values not at their offset (value: (offset, found)): {wrong}"


def values():
    return [f"v-{i:05d}" for i in range(VALUES)]


# --- 1. acks=all survives a leader SIGKILL --------------------------------------------------------


def test_confluent_acks_all_survives_leader_kill(cluster):
    topic = unique_topic("ck-leader-kill")
    admin, before = ck_create(cluster, topic)
    producer = Producer({
        "bootstrap.servers": cluster.bootstrap(),
        "acks": "all",
        "enable.idempotence": False,
        "message.timeout.ms": 60000,
        "linger.ms": 2,
    })
    acked, failed = {}, []

    def report(err, msg):
        if err is None:
            acked[msg.value().decode()] = msg.offset()
        else:
            failed.append((msg.value().decode(), err))

    acked_at_kill = in_flight_at_kill = None
    deadline = time.monotonic() + 2 * TIMEOUT_S
    for i, value in enumerate(values()):
        while i - len(acked) - len(failed) >= IN_FLIGHT:
            assert time.monotonic() < deadline, f"producer stalled: {len(acked)} acked, {failed[:5]}"
            producer.poll(0.05)
        producer.produce(topic, value=value.encode(), partition=0, on_delivery=report)
        # Kill once a third is through and a good part of the window is unacknowledged (delivery
        # reports are served only by poll/flush, so nothing is acknowledged in between).
        unacknowledged = i + 1 - len(acked) - len(failed)
        if acked_at_kill is None and i >= VALUES // 3 and unacknowledged >= IN_FLIGHT // 2:
            acked_at_kill, in_flight_at_kill = len(acked), unacknowledged
            cluster.kill_broker(before.leader)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0, "records still undelivered"

    assert failed == [], f"deliveries failed across the failover: {failed[:5]}"
    assert sorted(acked) == values(), "every value acknowledged exactly once"
    assert acked_at_kill is not None, "the leader was never killed"
    assert VALUES // 3 - IN_FLIGHT <= acked_at_kill < VALUES // 2, (acked_at_kill, in_flight_at_kill)
    survivors = sorted({1, 2, 3} - {before.leader})
    after = wait_partition(lambda: ck_partition(admin, topic),
                           lambda s: s.leader in survivors and s.isr == survivors, "a new leader, ISR = survivors")

    high, read = ck_read_all(cluster.bootstrap(), topic)
    print(f"killed leader {before.leader} with {in_flight_at_kill} unacknowledged; new state {after}; "
          f"high watermark {high}, {len(read)} records read")
    assert_acked_read_back(acked, high, read)

    cluster.restart_broker(before.leader)
    healed = wait_partition(lambda: ck_partition(admin, topic), lambda s: s.isr == [1, 2, 3],
                            f"restarted broker {before.leader} back in the ISR")
    assert healed.leader == after.leader, "the restarted broker rejoins as a follower"
    # The restarted replica took part in acknowledging: a write with acks=all commits with all three.
    producer.produce(topic, value=b"after-heal", partition=0, on_delivery=report)
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == [] and acked["after-heal"] == high, (acked.get("after-heal"), high, failed)


def test_kafka_python_acks_all_survives_leader_kill(cluster):
    topic = unique_topic("kp-leader-kill")
    admin, before = kp_create(cluster, topic)
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap(),
        acks="all",
        enable_idempotence=False,
        delivery_timeout_ms=60000,
        request_timeout_ms=10000,
        linger_ms=2,
    )
    acked = {}
    pending = collections.deque()

    def settle(value, future):
        acked[value] = future.get(timeout=2 * TIMEOUT_S).offset

    acked_at_kill = in_flight_at_kill = None
    for i, value in enumerate(values()):
        while len(pending) >= IN_FLIGHT:
            settle(*pending.popleft())
        pending.append((value, producer.send(topic, value=value.encode(), partition=0)))
        unacknowledged = sum(1 for _, f in pending if not f.is_done)
        if acked_at_kill is None and i >= VALUES // 3 and unacknowledged >= IN_FLIGHT // 2:
            acked_at_kill = len(acked) + sum(1 for _, f in pending if f.succeeded())
            in_flight_at_kill = unacknowledged
            cluster.kill_broker(before.leader)
    producer.flush(timeout=TIMEOUT_S)
    while pending:
        settle(*pending.popleft())

    assert sorted(acked) == values(), "every value acknowledged exactly once"
    assert acked_at_kill is not None, "the leader was never killed"
    assert VALUES // 3 - IN_FLIGHT <= acked_at_kill < VALUES // 2, (acked_at_kill, in_flight_at_kill)
    survivors = sorted({1, 2, 3} - {before.leader})
    after = wait_partition(lambda: kp_partition(admin, topic),
                           lambda s: s.leader in survivors and s.isr == survivors, "a new leader, ISR = survivors")

    high, read = kp_read_all(cluster.bootstrap(), topic)
    print(f"killed leader {before.leader} with {in_flight_at_kill} unacknowledged; new state {after}; "
          f"high watermark {high}, {len(read)} records read")
    assert_acked_read_back(acked, high, read)

    cluster.restart_broker(before.leader)
    healed = wait_partition(lambda: kp_partition(admin, topic), lambda s: s.isr == [1, 2, 3],
                            f"restarted broker {before.leader} back in the ISR")
    assert healed.leader == after.leader, "the restarted broker rejoins as a follower"
    offset = producer.send(topic, value=b"after-heal", partition=0).get(timeout=TIMEOUT_S).offset
    assert offset == high
    producer.close()
    admin.close()


# --- 2. an ISR below min.insync.replicas ----------------------------------------------------------


def ck_produce(producer, topic, value):
    """Produces one value and waits for its delivery report: (error or None, offset)."""
    reports = []
    producer.produce(topic, value=value.encode(), partition=0, on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert producer.flush(TIMEOUT_S) == 0, f"{value}: no delivery report"
    assert len(reports) == 1, reports
    return reports[0]


def test_confluent_isr_below_min_insync_refuses_acks_all_and_holds_high_watermark(cluster):
    topic = unique_topic("ck-below-min-isr")
    admin, state = ck_create(cluster, topic)
    leader = state.leader
    followers = [r for r in state.replicas if r != leader]
    leader_bootstrap = cluster.brokers[leader].bootstrap
    all_producer = Producer({
        "bootstrap.servers": leader_bootstrap, "acks": "all", "retries": 0, "enable.idempotence": False,
        "message.timeout.ms": 10000,
    })
    assert ck_produce(all_producer, topic, "committed") == (None, 0)

    for follower in followers:
        cluster.kill_broker(follower)
    wait_partition(lambda: ck_partition(admin, topic), lambda s: s.leader == leader and s.isr == [leader],
                   "the ISR down to the leader")

    error, _ = ck_produce(all_producer, topic, "refused")
    assert error is not None and error.code() == KafkaError.NOT_ENOUGH_REPLICAS, error
    one_producer = Producer({"bootstrap.servers": leader_bootstrap, "acks": "1", "message.timeout.ms": 10000})
    assert ck_produce(one_producer, topic, "acks-1") == (None, 1), "acks=1 appends at offset 1"

    consumer = ck_consumer(leader_bootstrap)
    tp = TopicPartition(topic, 0)
    assert consumer.get_watermark_offsets(tp, timeout=10, cached=False) == (0, 1), "high watermark held at 1"
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    read = ck_poll(consumer, {}, lambda r: 0 in r, "the committed record")
    # Negative check: for a bounded window the consumer gets nothing past the high watermark.
    quiet_until = time.monotonic() + QUIET_WINDOW_S
    ck_poll(consumer, read, lambda r: time.monotonic() >= quiet_until, "quiet window")
    assert read == {0: "committed"}, "the acks=1 record is not visible while the ISR is below min"
    assert consumer.get_watermark_offsets(tp, timeout=10, cached=False) == (0, 1)

    for follower in followers:
        cluster.restart_broker(follower)
    wait_partition(lambda: ck_partition(admin, topic), lambda s: s.isr == [1, 2, 3], "the ISR healed")
    ck_poll(consumer, read, lambda r: 1 in r, "the acks=1 record after the ISR healed")
    assert read == {0: "committed", 1: "acks-1"}
    assert consumer.get_watermark_offsets(tp, timeout=10, cached=False) == (0, 2)
    # With the ISR back, acks=all is accepted again.
    assert ck_produce(all_producer, topic, "accepted") == (None, 2)
    consumer.close()


def test_kafka_python_isr_below_min_insync_refuses_acks_all_and_holds_high_watermark(cluster):
    topic = unique_topic("kp-below-min-isr")
    admin, state = kp_create(cluster, topic)
    leader = state.leader
    followers = [r for r in state.replicas if r != leader]
    leader_bootstrap = cluster.brokers[leader].bootstrap
    all_producer = KafkaProducer(
        bootstrap_servers=leader_bootstrap, acks="all", retries=0, enable_idempotence=False,
        request_timeout_ms=10000,
    )
    assert all_producer.send(topic, value=b"committed", partition=0).get(timeout=TIMEOUT_S).offset == 0

    for follower in followers:
        cluster.kill_broker(follower)
    wait_partition(lambda: kp_partition(admin, topic), lambda s: s.leader == leader and s.isr == [leader],
                   "the ISR down to the leader")

    with pytest.raises(NotEnoughReplicasError):
        all_producer.send(topic, value=b"refused", partition=0).get(timeout=TIMEOUT_S)
    one_producer = KafkaProducer(bootstrap_servers=leader_bootstrap, acks=1, enable_idempotence=False)
    assert one_producer.send(topic, value=b"acks-1", partition=0).get(timeout=TIMEOUT_S).offset == 1

    tp = KpTopicPartition(topic, 0)
    consumer = kp_consumer(leader_bootstrap, topic)
    assert consumer.end_offsets([tp]) == {tp: 1}, "high watermark held at 1"
    read = kp_poll(consumer, {}, lambda r: 0 in r, "the committed record")
    quiet_until = time.monotonic() + QUIET_WINDOW_S
    kp_poll(consumer, read, lambda r: time.monotonic() >= quiet_until, "quiet window")
    assert read == {0: "committed"}, "the acks=1 record is not visible while the ISR is below min"
    assert consumer.end_offsets([tp]) == {tp: 1}

    for follower in followers:
        cluster.restart_broker(follower)
    wait_partition(lambda: kp_partition(admin, topic), lambda s: s.isr == [1, 2, 3], "the ISR healed")
    kp_poll(consumer, read, lambda r: 1 in r, "the acks=1 record after the ISR healed")
    assert read == {0: "committed", 1: "acks-1"}
    assert consumer.end_offsets([tp]) == {tp: 2}
    assert all_producer.send(topic, value=b"accepted", partition=0).get(timeout=TIMEOUT_S).offset == 2
    consumer.close()
    for client in (all_producer, one_producer, admin):
        client.close()


# --- 3. the ISR in Metadata follows a follower's death and return ---------------------------------

# How the follower fails: SIGKILL (connections refused; restarted on its data directory), or SIGSTOP
# (the process keeps its sockets open but answers nothing; resumed with SIGCONT), with a short
# replica.lag.time.max.ms so the leader also drops it for not fetching.
FOLLOWER_FAILURES = [
    "sigkill",
    pytest.param("sigstop", marks=pytest.mark.broker_config("replica_lag_time_max_ms = 1000\n")),
]


def fail_follower(cluster, follower, failure):
    if failure == "sigkill":
        cluster.kill_broker(follower)
    else:
        cluster.brokers[follower].pause()


def recover_follower(cluster, follower, failure):
    if failure == "sigkill":
        cluster.restart_broker(follower)
    else:
        cluster.brokers[follower].resume()


@pytest.mark.parametrize("failure", FOLLOWER_FAILURES)
def test_confluent_metadata_isr_shrinks_and_grows(cluster, failure):
    topic = unique_topic("ck-isr")
    admin, state = ck_create(cluster, topic)
    follower = max(r for r in state.replicas if r != state.leader)
    fail_follower(cluster, follower, failure)
    shrunk = wait_partition(lambda: ck_partition(admin, topic), lambda s: follower not in s.isr,
                            f"broker {follower} out of the ISR")
    assert shrunk == Partition(state.leader, [1, 2, 3], sorted({1, 2, 3} - {follower})), shrunk

    # Two in-sync replicas meet min.insync.replicas=2: acks=all still commits.
    producer = Producer({
        "bootstrap.servers": cluster.brokers[state.leader].bootstrap, "acks": "all", "message.timeout.ms": 10000,
    })
    assert ck_produce(producer, topic, "with-two") == (None, 0)

    recover_follower(cluster, follower, failure)
    grown = wait_partition(lambda: ck_partition(admin, topic), lambda s: s.isr == [1, 2, 3],
                           f"broker {follower} back in the ISR")
    assert grown == Partition(state.leader, [1, 2, 3], [1, 2, 3]), grown
    # The returned follower counts for acks=all again: the next record commits right after.
    assert ck_produce(producer, topic, "with-three") == (None, 1)


@pytest.mark.parametrize("failure", FOLLOWER_FAILURES)
def test_kafka_python_metadata_isr_shrinks_and_grows(cluster, failure):
    topic = unique_topic("kp-isr")
    admin, state = kp_create(cluster, topic)
    follower = max(r for r in state.replicas if r != state.leader)
    fail_follower(cluster, follower, failure)
    shrunk = wait_partition(lambda: kp_partition(admin, topic), lambda s: follower not in s.isr,
                            f"broker {follower} out of the ISR")
    assert shrunk == Partition(state.leader, [1, 2, 3], sorted({1, 2, 3} - {follower})), shrunk

    # Short request timeout: kafka-python may ask the frozen broker for metadata and waits that long.
    producer = KafkaProducer(
        bootstrap_servers=cluster.brokers[state.leader].bootstrap, acks="all", request_timeout_ms=3000,
    )
    assert producer.send(topic, value=b"with-two", partition=0).get(timeout=TIMEOUT_S).offset == 0

    recover_follower(cluster, follower, failure)
    grown = wait_partition(lambda: kp_partition(admin, topic), lambda s: s.isr == [1, 2, 3],
                           f"broker {follower} back in the ISR")
    assert grown == Partition(state.leader, [1, 2, 3], [1, 2, 3]), grown
    assert producer.send(topic, value=b"with-three", partition=0).get(timeout=TIMEOUT_S).offset == 1
    producer.close()
    admin.close()
