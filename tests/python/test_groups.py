"""Consumer groups through the Python clients, each scenario with kafka-python and with confluent-kafka
(librdkafka), against one `strom broker` started with `group_initial_rebalance_delay_ms = 0`:

- Three members of one group on a 6-partition topic own two partitions each (per the client's own
  `assignment()`); one closes (LeaveGroup) and the other two take over all six well before the session
  timeout; with commit-after-processing nothing produced before, during or after the rebalance is lost,
  and the committed offsets end at the log end.
- A member killed with SIGKILL (a separate process, so it cannot leave) is expired after its session
  timeout (6 s, the broker's minimum) and the survivor takes over its partitions and reads them; the
  time from the kill to the takeover is printed and bounded on both sides.
- Two groups on one topic each receive every record; auto-commit commits (periodically while the member
  runs, and on close) exactly the log end offsets, read back with the client's `committed()`.
- Offset commit metadata (and the leader epoch) round-trips through OffsetCommit/OffsetFetch, read back
  with the consumer's `committed()` and with the admin API.
- `strom groups --describe/--members/--state/--list` show the numbers the test produced and committed
  (100 per partition, 60 committed → LAG 40), the member and its client id, and the same group is seen by
  the confluent AdminClient (`list_consumer_groups`, `describe_consumer_groups`) and kafka-python's
  `KafkaAdminClient`; once the member closes the group is Empty and keeps its offsets.
- A group with committed offsets and no members can be deleted (with the client's admin API and with
  `strom groups --delete`); a group with an active member cannot (NON_EMPTY_GROUP).

Records are produced with a confluent-kafka producer to explicit partitions in every scenario; the group
behaviour under test is always that of the parametrized client.
"""

import collections
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError as KpKafkaError
from kafka.structs import OffsetAndMetadata

from conftest import poll_until, strom_bin, unique_topic

pytestmark = pytest.mark.broker_config("group_initial_rebalance_delay_ms = 0\n")

CLIENTS = ["kafka-python", "confluent-kafka"]
TIMEOUT_S = 30
# The broker's group_min_session_timeout_ms default; members heartbeat every 500 ms.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500
# How far past the session timeout a killed member's partitions may take to move: the expiry check,
# the survivor's next heartbeat (REBALANCE_IN_PROGRESS), its JoinGroup and SyncGroup.
TAKEOVER_SLACK_S = 3.0


# --- topics and records ---------------------------------------------------------------------------


def ck_admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "broker.address.family": "v4"})


def create_topic(bootstrap, topic, partitions):
    admin = ck_admin(bootstrap)  # must outlive the future
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=TIMEOUT_S)


def produce(bootstrap, topic, per_partition, partitions, tag):
    """Produces `per_partition` values to each partition (explicitly placed); returns {partition: [values]}."""
    producer = Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "linger.ms": 5})
    failures = []

    def delivered(error, message):
        if error is not None:
            failures.append(error)

    values = collections.defaultdict(list)
    for i in range(per_partition):
        for p in range(partitions):
            value = f"{tag}-p{p}-{i:04d}"
            producer.produce(topic, value.encode(), partition=p, on_delivery=delivered)
            values[p].append(value)
    assert producer.flush(TIMEOUT_S) == 0, "records still undelivered"
    assert not failures, failures
    return dict(values)


def every_value(*batches):
    return {v for batch in batches for values in batch.values() for v in values}


# --- one group member, either client ------------------------------------------------------------


class KpMember:
    """A subscribed kafka-python consumer in `group`."""

    client = "kafka-python"

    def __init__(self, bootstrap, group, topic, client_id, auto_commit=False, subscribe=True):
        """`subscribe=False`: a client of the group that never joins it (only commits/fetches offsets)."""
        self.topic = topic
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=auto_commit,
            auto_commit_interval_ms=200,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        )
        if subscribe:
            # Topic metadata first, so the first JoinGroup's assignment already covers the partitions.
            # Otherwise kafka-python 3.0.12 assigns nothing, rejoins once the metadata arrives, and
            # (a client bug) when a poll times out while that metadata-triggered rejoin is in flight it
            # never applies the new assignment nor re-enables heartbeats: the member sits with no
            # partitions until the coordinator expires it.
            assert self.consumer.partitions_for_topic(topic), f"no metadata for {topic}"
            self.consumer.subscribe([topic])

    def poll(self, timeout_s=0.1):
        """[(partition, offset, value)] of one poll. At least 0.5 s (it returns as soon as records
        arrive): a kafka-python poll that times out mid-rejoin is what the client bug above needs."""
        batches = self.consumer.poll(timeout_ms=int(max(timeout_s, 0.5) * 1000))
        return [(tp.partition, r.offset, r.value.decode()) for tp, records in batches.items() for r in records]

    def commit(self, offsets):
        """Commits {partition: next offset}; False when the group rejected it (e.g. mid-rebalance)."""
        try:
            self.consumer.commit({KpTopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1)
                                  for p, o in offsets.items()})
            return True
        except KpKafkaError:
            return False

    def assignment(self):
        return frozenset(tp.partition for tp in self.consumer.assignment())

    def committed(self, partitions):
        """{partition: committed offset or None}, asked of the coordinator."""
        return {p: self.consumer.committed(KpTopicPartition(self.topic, p)) for p in partitions}

    def end_offsets(self, partitions):
        tps = [KpTopicPartition(self.topic, p) for p in partitions]
        return {tp.partition: o for tp, o in self.consumer.end_offsets(tps).items()}

    def close(self):
        # autocommit=True is kafka-python's default: with enable_auto_commit it commits on close.
        self.consumer.close()


class CkMember:
    """A subscribed confluent-kafka consumer in `group`."""

    client = "confluent-kafka"

    def __init__(self, bootstrap, group, topic, client_id, auto_commit=False, subscribe=True):
        self.topic = topic
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "broker.address.family": "v4",
            "group.id": group,
            "client.id": client_id,
            "enable.auto.commit": auto_commit,
            "auto.commit.interval.ms": 200,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        })
        if subscribe:
            self.consumer.subscribe([topic])

    def poll(self, timeout_s=0.1):
        out = []
        for message in self.consumer.consume(num_messages=500, timeout=timeout_s):
            if message.error() is not None:
                raise KafkaException(message.error())
            out.append((message.partition(), message.offset(), message.value().decode()))
        return out

    def commit(self, offsets):
        try:
            result = self.consumer.commit(
                offsets=[TopicPartition(self.topic, p, o) for p, o in offsets.items()], asynchronous=False
            )
        except KafkaException:
            return False
        return all(tp.error is None for tp in result)

    def assignment(self):
        return frozenset(tp.partition for tp in self.consumer.assignment())

    def committed(self, partitions):
        tps = self.consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=TIMEOUT_S)
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}

    def end_offsets(self, partitions):
        return {
            p: self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=TIMEOUT_S, cached=False)[1]
            for p in partitions
        }

    def close(self):
        self.consumer.close()


MEMBERS = {"kafka-python": KpMember, "confluent-kafka": CkMember}


def group_commits(bootstrap, group):
    """{TopicPartition: OffsetAndMetadata} of everything `group` committed, per kafka-python's admin
    OffsetFetch (it decodes the wire bytes exactly)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()


def group_offsets(bootstrap, group):
    """{(topic, partition): committed offset} of `group`."""
    return {(tp.topic, tp.partition): om.offset for tp, om in group_commits(bootstrap, group).items()}


class Worker(threading.Thread):
    """Runs a member in its own thread (client objects are used from this thread only): poll, process
    (record the values), then commit what was processed. `assigned` is the client's latest assignment."""

    def __init__(self, member, commit=True):
        super().__init__(daemon=True)
        self.member = member
        self.commit = commit
        self.lock = threading.Lock()
        self.processed = []
        self.assigned = frozenset()
        self.failed_commits = 0
        self.closed_at = None
        self.error = None
        self._stop_event = threading.Event()

    def run(self):
        try:
            while not self._stop_event.is_set():
                records = self.member.poll(0.1)
                if records:
                    with self.lock:
                        self.processed.extend(value for _, _, value in records)
                    if self.commit:
                        next_offsets = {}
                        for partition, offset, _ in records:
                            next_offsets[partition] = max(next_offsets.get(partition, 0), offset + 1)
                        if not self.member.commit(next_offsets):
                            self.failed_commits += 1  # redelivered to the next owner: at least once
                self.assigned = self.member.assignment()
            self.member.close()
            self.closed_at = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - reported by `check`/`stop`
            self.error = error

    def check(self):
        if self.error is not None:
            raise AssertionError(f"{self.member.client} member failed: {self.error!r}") from self.error

    def values(self):
        with self.lock:
            return set(self.processed)

    def stop(self):
        """Closes the member (LeaveGroup) and waits for its thread."""
        self._stop_event.set()
        self.join(TIMEOUT_S)
        assert not self.is_alive(), f"{self.member.client} member did not close within {TIMEOUT_S}s"
        self.check()


def assignments(workers):
    for worker in workers:
        worker.check()
    return [worker.assigned for worker in workers]


def stop_all(workers):
    for worker in workers:
        if worker.is_alive():
            worker._stop_event.set()
    for worker in workers:
        if worker.ident is not None:
            worker.join(TIMEOUT_S)


# --- 1. spread, leave, no loss ------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_members_share_partitions_and_a_leaving_member_loses_nothing(broker, client):
    bootstrap = broker.bootstrap
    topic, group = unique_topic("groups-spread"), unique_topic("g-spread")
    create_topic(bootstrap, topic, 6)
    before = produce(bootstrap, topic, 50, 6, "before")
    workers = [Worker(MEMBERS[client](bootstrap, group, topic, f"{client}-{i}")) for i in range(3)]
    try:
        for worker in workers:
            worker.start()
        spread = poll_until(lambda: assignments(workers),
                            lambda a: all(len(s) == 2 for s in a) and frozenset().union(*a) == frozenset(range(6)),
                            TIMEOUT_S, "two partitions each")
        poll_until(lambda: set().union(*(w.values() for w in workers)), lambda v: v >= every_value(before),
                   TIMEOUT_S, "every record produced before the rebalance processed")

        leaving, survivors = workers[0], workers[1:]
        left_with = spread[0]
        leaving.stop()  # close(): LeaveGroup
        during = produce(bootstrap, topic, 25, 6, "during")
        after_leave = poll_until(lambda: assignments(survivors),
                                 lambda a: all(len(s) == 3 for s in a) and a[0] | a[1] == frozenset(range(6)),
                                 TIMEOUT_S, "the two survivors own all six partitions")
        takeover_s = time.monotonic() - leaving.closed_at
        after = produce(bootstrap, topic, 25, 6, "after")
        expected = every_value(before, during, after)
        processed = poll_until(lambda: set().union(*(w.values() for w in workers)), lambda v: v >= expected,
                               TIMEOUT_S, "every produced record processed at least once")
        assert processed == expected, f"unexpected values: {sorted(processed - expected)[:5]}"
        # Everything processed was committed by its owner: the group's offsets end at the log end.
        poll_until(lambda: group_offsets(bootstrap, group), lambda o: o == {(topic, p): 100 for p in range(6)},
                   TIMEOUT_S, "committed offsets at the log end (100 per partition)")
        print(f"{client}: member owning {sorted(left_with)} left; survivors own "
              f"{[sorted(a) for a in after_leave]} {takeover_s:.2f}s after its close; "
              f"failed commits {[w.failed_commits for w in workers]}")
        # A LeaveGroup rebalances at once: the takeover must not wait for the session timeout.
        assert takeover_s < SESSION_TIMEOUT_MS / 1000, f"takeover took {takeover_s:.2f}s after the member left"
        for worker in survivors:
            worker.stop()
    finally:
        stop_all(workers)


# --- 2. a killed member is expired after its session timeout --------------------------------------

CHILD_MEMBER = r"""
import sys
client, bootstrap, group, topic = sys.argv[1:5]
last = None

def report(parts):
    global last
    if parts != last:
        print("assigned " + ",".join(str(p) for p in parts), flush=True)
        last = parts

if client == "kafka-python":
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="doomed",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             session_timeout_ms=int(sys.argv[5]), heartbeat_interval_ms=int(sys.argv[6]))
    consumer.partitions_for_topic(topic)  # see KpMember
    consumer.subscribe([topic])
    while True:
        consumer.poll(timeout_ms=500)
        report(sorted(tp.partition for tp in consumer.assignment()))
else:
    from confluent_kafka import Consumer
    consumer = Consumer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "group.id": group,
                         "client.id": "doomed", "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "session.timeout.ms": int(sys.argv[5]), "heartbeat.interval.ms": int(sys.argv[6])})
    consumer.subscribe([topic])
    while True:
        consumer.poll(0.1)
        report(sorted(tp.partition for tp in consumer.assignment()))
"""


class ChildMember:
    """A group member in a separate Python process that reports its assignment on stdout."""

    def __init__(self, client, bootstrap, group, topic, log_path):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CHILD_MEMBER, client, bootstrap, group, topic, str(SESSION_TIMEOUT_MS),
                 str(HEARTBEAT_INTERVAL_MS)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
            )
        self.assigned = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.process.stdout:
            if line.startswith("assigned "):
                parts = line.split(" ", 1)[1].strip()
                self.assigned = frozenset(int(p) for p in parts.split(",") if p)

    def assignment(self):
        if self.process.poll() is not None:
            raise AssertionError(f"child member exited ({self.process.returncode}): "
                                 f"{self.log_path.read_text(errors='replace')[-2000:]}")
        return self.assigned

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT_S)


@pytest.mark.parametrize("client", CLIENTS)
def test_killed_member_is_expired_after_the_session_timeout(broker, client, tmp_path):
    bootstrap = broker.bootstrap
    topic, group = unique_topic("groups-kill"), unique_topic("g-kill")
    create_topic(bootstrap, topic, 6)
    produced = produce(bootstrap, topic, 10, 6, "kill")
    child = ChildMember(client, bootstrap, group, topic, tmp_path / "child.log")
    survivor = None
    try:
        poll_until(child.assignment, lambda a: a == frozenset(range(6)), TIMEOUT_S, "the child owns all partitions")
        # Created only now and polled at once: a member that is not polled holds up every rebalance.
        survivor = Worker(MEMBERS[client](bootstrap, group, topic, "survivor"), commit=False)
        survivor.start()
        split = poll_until(lambda: (child.assignment(), assignments([survivor])[0]),
                           lambda a: len(a[0]) == 3 and len(a[1]) == 3 and a[0] | a[1] == frozenset(range(6)),
                           TIMEOUT_S, "three partitions each")
        killed_at = time.monotonic()
        child.kill()  # SIGKILL: no LeaveGroup, the coordinator only notices missing heartbeats
        poll_until(lambda: assignments([survivor])[0], lambda a: a == frozenset(range(6)),
                   SESSION_TIMEOUT_MS / 1000 + 15, "the survivor owns all six partitions")
        takeover_s = time.monotonic() - killed_at
        print(f"{client}: killed member owned {sorted(split[0])}; survivor took over {takeover_s:.2f}s after "
              f"SIGKILL (session timeout {SESSION_TIMEOUT_MS} ms)")
        # It reads the partitions it took over (nothing was committed: from the beginning).
        poll_until(survivor.values, lambda v: v == every_value(produced), TIMEOUT_S,
                   "the survivor read all six partitions")
        session_s = SESSION_TIMEOUT_MS / 1000
        # The member's last heartbeat was at most one heartbeat interval before the kill (plus jitter):
        # expiring it much earlier would mean the broker ignores the session timeout.
        assert takeover_s >= session_s - 2 * HEARTBEAT_INTERVAL_MS / 1000, (
            f"taken over after only {takeover_s:.2f}s, before the {session_s}s session timeout"
        )
        assert takeover_s < session_s + TAKEOVER_SLACK_S, (
            f"takeover took {takeover_s:.2f}s: more than the {session_s}s session timeout + {TAKEOVER_SLACK_S}s"
        )
        survivor.stop()
    finally:
        child.kill()
        if survivor is not None:
            stop_all([survivor])


# --- 3. two groups, auto-commit ------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_two_groups_each_read_everything_and_auto_commit_reaches_the_log_end(broker, client):
    bootstrap = broker.bootstrap
    topic = unique_topic("groups-auto")
    create_topic(bootstrap, topic, 3)
    produced = produce(bootstrap, topic, 30, 3, "auto")
    groups = [unique_topic("g-auto-a"), unique_topic("g-auto-b")]
    members = [MEMBERS[client](bootstrap, g, topic, f"{client}-auto", auto_commit=True) for g in groups]
    received = [collections.Counter(), collections.Counter()]
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while any(sum(r.values()) < 90 for r in received):
            assert time.monotonic() < deadline, f"not everything read: {[sum(r.values()) for r in received]}"
            for member, counts in zip(members, received):
                counts.update(value for _, _, value in member.poll(0.05))
        for counts in received:
            assert set(counts) == every_value(produced) and set(counts.values()) == {1}, counts

        end = {p: 30 for p in range(3)}
        assert members[0].end_offsets(range(3)) == end
        # Periodic auto-commit (every 200 ms) while the members keep polling.
        extra = []
        for member in members:
            def probe(member=member):
                for m in members:
                    extra.extend(m.poll(0.05))
                return member.committed(range(3))

            poll_until(probe, lambda c: c == end, TIMEOUT_S, "auto-committed offsets at the log end")
        assert extra == [], "records delivered twice"
        for member in members:
            member.close()
        members = []
        # After close, read by a new client of each group (not subscribed: no join, only OffsetFetch).
        for g in groups:
            reader = MEMBERS[client](bootstrap, g, topic, f"{client}-reader", subscribe=False)
            try:
                assert reader.committed(range(3)) == end, g
                assert reader.end_offsets(range(3)) == end
            finally:
                reader.close()
    finally:
        for member in members:
            member.close()


# --- 4. commit metadata ---------------------------------------------------------------------------


def wait_assigned(member, partitions):
    poll_until(lambda: (member.poll(0.05), member.assignment())[1], lambda a: a == frozenset(partitions),
               TIMEOUT_S, f"{member.client} member assigned {sorted(partitions)}")


def test_commit_metadata_round_trips_kafka_python(broker):
    bootstrap = broker.bootstrap
    topic, group = unique_topic("groups-meta"), unique_topic("g-meta-kp")
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, 10, 3, "meta")
    member = KpMember(bootstrap, group, topic, "kp-meta")
    tps = [KpTopicPartition(topic, p) for p in range(3)]
    # Offset, metadata (including non-ASCII and an empty string) and leader epoch (the topic's is 0).
    commits = {
        tps[0]: OffsetAndMetadata(7, "checkpoint=7;host=a", 0),
        tps[1]: OffsetAndMetadata(3, '{"batch": 12, "note": "zürich ✓"}', -1),
        tps[2]: OffsetAndMetadata(10, "", -1),
    }
    try:
        wait_assigned(member, range(3))
        member.consumer.commit(commits)
        assert {tp: member.consumer.committed(tp, metadata=True) for tp in tps} == commits
    finally:
        member.close()
    # After the member left (group Empty), through kafka-python's admin API.
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        assert admin.list_group_offsets({group: None}) == {group: commits}
        assert admin.list_group_offsets({group: tps[:1]}) == {group: {tps[0]: commits[tps[0]]}}
    finally:
        admin.close()


def test_commit_metadata_round_trips_confluent(broker):
    bootstrap = broker.bootstrap
    topic, group = unique_topic("groups-meta"), unique_topic("g-meta-ck")
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, 10, 3, "meta")
    member = CkMember(bootstrap, group, topic, "ck-meta")
    commits = [
        TopicPartition(topic, 0, 7, metadata="checkpoint=7;host=a", leader_epoch=0),
        TopicPartition(topic, 1, 3, metadata='{"batch": 12, "note": "zürich ✓"}'),
        TopicPartition(topic, 2, 10),
    ]
    expected = {0: (7, "checkpoint=7;host=a", 0), 1: (3, '{"batch": 12, "note": "zürich ✓"}', None),
                2: (10, None, None)}

    def view(tps):
        return {tp.partition: (tp.offset, tp.metadata, tp.leader_epoch) for tp in tps}

    try:
        wait_assigned(member, range(3))
        result = member.consumer.commit(offsets=commits, asynchronous=False)
        assert all(tp.error is None for tp in result), result
        assert view(member.consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=TIMEOUT_S)) \
            == expected
    finally:
        member.close()
    admin = ck_admin(bootstrap)
    listed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(TIMEOUT_S)
    assert listed.group_id == group
    assert view(listed.topic_partitions) == expected
    # The bytes the broker stored, read by kafka-python: confluent-kafka's Python binding sends the
    # metadata with its C string terminator (metadata_size = strlen + 1), an empty string when unset.
    raw = {tp.partition: (om.offset, om.metadata, om.leader_epoch)
           for tp, om in group_commits(bootstrap, group).items()}
    assert raw == {
        0: (7, "checkpoint=7;host=a\x00", 0),
        1: (3, '{"batch": 12, "note": "zürich ✓"}\x00', -1),
        2: (10, "", -1),
    }


# --- 5. strom groups and the admin APIs --------------------------------------------------------------


def strom_groups(bootstrap, *args):
    return subprocess.run([strom_bin(), "groups", "--bootstrap-server", bootstrap, *args],
                          capture_output=True, text=True, timeout=60)


def parse_table(text):
    """(lines above the header, [row dicts]) of a `strom groups` table: columns start where the header's
    names start (names are separated by two or more spaces; `COORDINATOR (ID)` is one name)."""
    lines = [line for line in text.splitlines() if line.strip()]
    at = next(i for i, line in enumerate(lines) if line.startswith("GROUP "))
    columns = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[at])]
    rows = []
    for line in lines[at + 1:]:
        row = {}
        for i, (start, name) in enumerate(columns):
            end = columns[i + 1][0] if i + 1 < len(columns) else None
            row[name] = line[start:end].strip()
        rows.append(row)
    return lines[:at], rows


def consume_through(member, partitions, last_offset):
    """Polls until every partition in `partitions` delivered `last_offset`."""
    seen = {}

    def probe():
        for partition, offset, _ in member.poll(0.05):
            seen[partition] = max(seen.get(partition, -1), offset)
        return dict(seen)

    poll_until(probe, lambda s: all(s.get(p, -1) >= last_offset for p in partitions), TIMEOUT_S,
               f"offset {last_offset} consumed on every partition")


@pytest.mark.parametrize("client", CLIENTS)
def test_strom_groups_and_admin_apis_show_offsets_lag_and_members(broker, client):
    bootstrap = broker.bootstrap
    topic, group = unique_topic("groups-lag"), unique_topic("g-lag")
    client_id = unique_topic(f"{client}-lag")
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, 100, 3, "lag")
    member = MEMBERS[client](bootstrap, group, topic, client_id)
    admin = ck_admin(bootstrap)
    try:
        consume_through(member, range(3), 59)
        assert member.commit({p: 60 for p in range(3)})  # processed offsets 0..59 of each partition
        assert member.committed(range(3)) == {0: 60, 1: 60, 2: 60}

        described = admin.describe_consumer_groups([group])[group].result(TIMEOUT_S)
        assert described.group_id == group
        assert described.state == ConsumerGroupState.STABLE
        assert described.is_simple_consumer_group is False
        assert described.partition_assignor == "range"
        assert described.coordinator.id == broker.node_id
        assert len(described.members) == 1, described.members
        desc_member = described.members[0]
        assert desc_member.client_id == client_id
        assert sorted((tp.topic, tp.partition) for tp in desc_member.assignment.topic_partitions) == \
            [(topic, 0), (topic, 1), (topic, 2)]
        member_id = desc_member.member_id
        assert member_id.startswith(client_id), member_id

        listed = admin.list_consumer_groups().result(TIMEOUT_S)
        assert not listed.errors, listed.errors
        states = {g.group_id: g.state for g in listed.valid}
        assert states.get(group) == ConsumerGroupState.STABLE, states

        kp_admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            kp_listed = {g["group_id"]: g for g in kp_admin.list_groups()}
            assert kp_listed[group]["group_state"] == "Stable" and kp_listed[group]["protocol_type"] == "consumer"
            kp_described = kp_admin.describe_groups([group])[group]
            assert kp_described["group_state"] == "Stable" and kp_described["protocol_data"] == "range"
            assert [(m["member_id"], m["client_id"]) for m in kp_described["members"]] == [(member_id, client_id)]
        finally:
            kp_admin.close()

        # strom groups --describe: 100 produced, 60 committed on each partition.
        out = strom_groups(bootstrap, "--describe", "--group", group)
        assert out.returncode == 0, out.stderr
        notice, rows = parse_table(out.stdout)
        assert notice == [], out.stdout
        assert [(r["GROUP"], r["TOPIC"], r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"],
                 r["CONSUMER-ID"], r["CLIENT-ID"]) for r in rows] == [
            (group, topic, str(p), "60", "100", "40", member_id, client_id) for p in range(3)
        ], out.stdout
        for row in rows:
            assert 0 <= int(row["LAG-SECONDS"]) <= 60, out.stdout  # records produced moments ago

        out = strom_groups(bootstrap, "--describe", "--group", group, "--members")
        assert out.returncode == 0, out.stderr
        _, rows = parse_table(out.stdout)
        assert [(r["GROUP"], r["CONSUMER-ID"], r["CLIENT-ID"], r["#PARTITIONS"]) for r in rows] == \
            [(group, member_id, client_id, "3")], out.stdout

        out = strom_groups(bootstrap, "--describe", "--group", group, "--state")
        assert out.returncode == 0, out.stderr
        _, rows = parse_table(out.stdout)
        assert [(r["GROUP"], r["COORDINATOR (ID)"], r["ASSIGNMENT-STRATEGY"], r["STATE"], r["#MEMBERS"])
                for r in rows] == [(group, f"{broker.bootstrap} ({broker.node_id})", "range", "Stable", "1")], \
            out.stdout

        out = strom_groups(bootstrap, "--list")
        assert out.returncode == 0, out.stderr
        assert group in out.stdout.split(), out.stdout

        member.close()
        member = None
        # Without members the group is Empty and keeps its offsets; the table has no owners.
        described = admin.describe_consumer_groups([group])[group].result(TIMEOUT_S)
        assert described.state == ConsumerGroupState.EMPTY and described.members == []
        out = strom_groups(bootstrap, "--describe", "--group", group)
        assert out.returncode == 0, out.stderr
        notice, rows = parse_table(out.stdout)
        assert notice == [f"Consumer group '{group}' has no active members."], out.stdout
        assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"], r["CONSUMER-ID"])
                for r in rows] == [(str(p), "60", "100", "40", "-") for p in range(3)], out.stdout
        out = strom_groups(bootstrap, "--list", "--state")
        assert out.returncode == 0, out.stderr
        _, rows = parse_table(out.stdout)
        assert {r["GROUP"]: r["STATE"] for r in rows}.get(group) == "Empty", out.stdout
    finally:
        if member is not None:
            member.close()


# --- 6. deleting groups -------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_delete_empty_group_and_refuse_a_group_with_members(broker, client):
    bootstrap = broker.bootstrap
    topic = unique_topic("groups-delete")
    empty, active = unique_topic("g-empty"), unique_topic("g-active")
    create_topic(bootstrap, topic, 2)
    produce(bootstrap, topic, 5, 2, "delete")
    members = {g: MEMBERS[client](bootstrap, g, topic, f"{client}-{g}") for g in (empty, active)}
    try:
        for g, member in members.items():
            consume_through(member, range(2), 4)
            assert member.commit({0: 5, 1: 5})
        members.pop(empty).close()
        assert group_offsets(bootstrap, empty) == {(topic, 0): 5, (topic, 1): 5}

        if client == "kafka-python":
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            try:
                assert admin.delete_groups([empty, active]) == {empty: "OK", active: "NonEmptyGroupError"}
                assert admin.delete_groups([empty]) == {empty: "GroupIdNotFoundError"}
            finally:
                admin.close()
        else:
            admin = ck_admin(bootstrap)
            futures = admin.delete_consumer_groups([empty, active], request_timeout=TIMEOUT_S)
            assert futures[empty].result(TIMEOUT_S) is None
            with pytest.raises(KafkaException) as refused:
                futures[active].result(TIMEOUT_S)
            assert refused.value.args[0].code() == KafkaError.NON_EMPTY_GROUP, refused.value
            with pytest.raises(KafkaException) as gone:
                admin.delete_consumer_groups([empty], request_timeout=TIMEOUT_S)[empty].result(TIMEOUT_S)
            assert gone.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND, gone.value

        # The deleted group is gone with its offsets; the active one keeps both.
        assert group_offsets(bootstrap, empty) == {}
        describer = ck_admin(bootstrap)
        described = describer.describe_consumer_groups([empty, active])
        assert described[empty].result(TIMEOUT_S).state == ConsumerGroupState.DEAD
        assert described[active].result(TIMEOUT_S).state == ConsumerGroupState.STABLE
        assert group_offsets(bootstrap, active) == {(topic, 0): 5, (topic, 1): 5}
        listed = strom_groups(bootstrap, "--list")
        assert listed.returncode == 0, listed.stderr
        assert active in listed.stdout.split() and empty not in listed.stdout.split(), listed.stdout

        # strom groups --delete refuses the active group, then deletes it once its member left.
        out = strom_groups(bootstrap, "--delete", "--group", active)
        assert out.returncode == 1, out
        assert f"Group '{active}' is not empty. (NON_EMPTY_GROUP)" in out.stdout + out.stderr, out
        members.pop(active).close()
        out = strom_groups(bootstrap, "--delete", "--group", active)
        assert out.returncode == 0, out
        assert group_offsets(bootstrap, active) == {}
        listed = strom_groups(bootstrap, "--list")
        assert active not in listed.stdout.split(), listed.stdout
    finally:
        for member in members.values():
            member.close()
