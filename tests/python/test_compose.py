"""End to end through deploy/: the FROM-scratch image and the docker-compose cluster (3 controllers,
3 brokers, Prometheus), driven from the host the way a user would.

- The image is built by deploy/docker/build-image.sh from the strom binary the other tests use
  (`$STROM_BIN`, else target/debug/strom; no release build), under a tag unique to this run; the
  Prometheus image likewise from Debian's /usr/bin/prometheus.
- `compose up` runs under a unique project name with free host ports and a short broker session
  timeout; it returns once the controllers are healthy (the brokers `depends_on` that), and the test
  then polls until every node's healthcheck (`strom health` inside the container) reports healthy.
- Checks: the image has no shell and runs as an unprivileged user; every node's /health/* and
  /metrics answer on the published ports (probed with `strom health` from the host); the INTERNAL
  listener works from a one-off container on the compose network (`compose run tools …`: create,
  produce, consume by service name) and the same records are read through the EXTERNAL listener on
  the host; Prometheus scrapes all six nodes and loaded the alert rules; a topic with RF 3 and
  min.insync.replicas=2 keeps taking acks=all writes and serving reads when the leader of one of its
  partitions is SIGKILLed (`docker kill`), every acknowledged record is read back at its offset, and
  the killed broker, started again on its volume, rejoins the ISR.
- `compose down -v` and the removal of the images run whatever happens.

No Docker engine (`docker info` fails) or no compose tool: the tests are SKIPPED, unless `CI` or
`STROM_REQUIRE_DOCKER=1` is set, in which case they FAIL. 30 to 45 s on 2 cores, image builds included.
"""

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import REPO_ROOT, free_ports, poll_until, strom_bin, unique_topic

COMPOSE_FILE = REPO_ROOT / "deploy" / "docker-compose.yml"
BUILD_SCRIPT = REPO_ROOT / "deploy" / "docker" / "build-image.sh"
PROMETHEUS_BINARY = pathlib.Path("/usr/bin/prometheus")
CONTROLLERS = ("controller-1", "controller-2", "controller-3")
BROKERS = {1: "broker-1", 2: "broker-2", 3: "broker-3"}
# Broker fencing after a kill takes the session timeout set below; everything else is a few seconds.
SESSION_TIMEOUT_MS = 3000
HEALTHY_TIMEOUT_S = 90
TIMEOUT_S = 45
PARTITIONS = 3
VALUES_PER_PHASE = 150

pytestmark = pytest.mark.timeout(300)


# --- Docker present or not ------------------------------------------------------------------------


def docker_required():
    """True when a missing Docker engine must fail the tests (CI) rather than skip them."""
    ci = os.environ.get("CI", "").strip().lower()
    return (ci not in ("", "0", "false")) or os.environ.get("STROM_REQUIRE_DOCKER") == "1"


def skip_or_fail(reason):
    if docker_required():
        pytest.fail(f"{reason} (CI or STROM_REQUIRE_DOCKER=1 is set, so Docker is required)", pytrace=False)
    pytest.skip(reason)


def run(args, timeout=120, check=True, **kwargs):
    """Runs a command, capturing text output; on failure raises with the output."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(map(str, args))}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
    return result


def docker_problem():
    """Why Docker cannot be used here, or None."""
    if shutil.which("docker") is None:
        return "no `docker` command"
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0 or not info.stdout.strip():
        return f"no Docker engine (`docker info` failed: {info.stderr.strip()[-300:]})"
    return None


def compose_command():
    """`docker compose` (v2) when present, else `docker-compose` (v1.28+, for profiles); None if neither."""
    candidates = (["docker", "compose"], ["docker-compose"])
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        try:
            if run(command + ["version"], timeout=30, check=False).returncode == 0:
                return command
        except subprocess.TimeoutExpired:
            continue
    return None


# --- the compose project --------------------------------------------------------------------------


class Compose:
    """One compose project of deploy/docker-compose.yml: unique name, free host ports."""

    def __init__(self, command, image, prometheus_image):
        self.command = command
        self.project = f"stromtest{uuid.uuid4().hex[:10]}"
        self.image = image
        self.prometheus_image = prometheus_image
        ports = iter(free_ports(13))
        self.kafka_ports = {n: next(ports) for n in BROKERS}
        self.broker_metrics_ports = {n: next(ports) for n in BROKERS}
        self.controller_ports = {n: next(ports) for n in (1, 2, 3)}
        self.controller_metrics_ports = {n: next(ports) for n in (1, 2, 3)}
        self.prometheus_port = next(ports)
        self.env = dict(os.environ)
        self.env.update({
            "STROM_IMAGE": image,
            "STROM_PROMETHEUS_IMAGE": prometheus_image or "strom-prometheus:absent",
            "STROM_CLUSTER_ID": self.project,
            "STROM_BIND_ADDRESS": "127.0.0.1",
            "STROM_BROKER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "STROM_BROKER_HEARTBEAT_INTERVAL_MS": "500",
            "STROM_PROMETHEUS_PORT": str(self.prometheus_port),
        })
        for n in (1, 2, 3):
            self.env[f"STROM_BROKER{n}_PORT"] = str(self.kafka_ports[n])
            self.env[f"STROM_BROKER{n}_METRICS_PORT"] = str(self.broker_metrics_ports[n])
            self.env[f"STROM_CONTROLLER{n}_PORT"] = str(self.controller_ports[n])
            self.env[f"STROM_CONTROLLER{n}_METRICS_PORT"] = str(self.controller_metrics_ports[n])

    def compose(self, *args, timeout=120, check=True, input=None):
        base = self.command + ["-p", self.project, "-f", str(COMPOSE_FILE)]
        if self.prometheus_image:
            base += ["--profile", "monitoring"]
        return run(base + list(args), timeout=timeout, check=check, env=self.env, input=input)

    def bootstrap(self, alive=None):
        """The EXTERNAL listeners on the host (of the brokers in `alive`, default all)."""
        nodes = sorted(alive if alive is not None else BROKERS)
        return ",".join(f"127.0.0.1:{self.kafka_ports[n]}" for n in nodes)

    def container(self, service):
        return self.compose("ps", "-q", service).stdout.strip()

    def health(self, service):
        """`healthy`, `starting`, `unhealthy`, or the container state when it has stopped."""
        container = self.container(service)
        if not container:
            return "absent"
        state = run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                     container], check=False).stdout.split()
        if not state:
            return "absent"
        return state[1] if state[0] == "running" and len(state) > 1 else state[0]

    def wait_healthy(self, services, timeout_s=HEALTHY_TIMEOUT_S):
        poll_until(lambda: {s: self.health(s) for s in services},
                   lambda states: all(v == "healthy" for v in states.values()), timeout_s,
                   f"{', '.join(services)} healthy", interval_s=0.5)

    def tools(self, *args, input=None, timeout=90):
        """`compose run --rm tools <args>`: the strom CLI in a one-off container on the compose network."""
        return self.compose("run", "--rm", "-T", "tools", *args, input=input, timeout=timeout)

    def logs(self, tail=60):
        try:
            return self.compose("logs", "--no-color", "--tail", str(tail), check=False, timeout=60).stdout
        except subprocess.TimeoutExpired:
            return "<compose logs timed out>"

    @contextlib.contextmanager
    def logs_on_failure(self):
        """Prints the nodes' recent logs when the block fails."""
        try:
            yield
        except BaseException:
            print(f"--- compose logs ({self.project}) ---\n{self.logs()}")
            raise


@pytest.fixture(scope="module")
def compose_tool():
    problem = docker_problem()
    if problem:
        skip_or_fail(problem)
    command = compose_command()
    if command is None:
        skip_or_fail("neither `docker compose` nor `docker-compose` is installed")
    return command


@pytest.fixture(scope="module")
def images(compose_tool):
    """Builds strom:pytest-<id> (and strom-prometheus:pytest-<id> when Prometheus is installed);
    removes them at the end."""
    run_id = uuid.uuid4().hex[:10]
    image = f"strom:pytest-{run_id}"
    args = ["bash", str(BUILD_SCRIPT), "--quiet", "--binary", strom_bin(), "--tag", image]
    prometheus_image = None
    if PROMETHEUS_BINARY.exists():
        prometheus_image = f"strom-prometheus:pytest-{run_id}"
        args += ["--prometheus", "--prometheus-tag", prometheus_image]
    started = time.monotonic()
    try:
        run(args, timeout=300)
        print(f"images built in {time.monotonic() - started:.1f}s")
        yield image, prometheus_image
    finally:
        run(["docker", "rmi", "-f", image] + ([prometheus_image] if prometheus_image else []), check=False)


@pytest.fixture(scope="module")
def cluster(compose_tool, images):
    """The compose cluster, up and healthy; always taken down with its volumes."""
    image, prometheus_image = images
    project = Compose(compose_tool, image, prometheus_image)
    started = time.monotonic()
    try:
        with project.logs_on_failure():
            project.compose("up", "-d", timeout=240)
            project.wait_healthy(list(CONTROLLERS) + list(BROKERS.values()))
        print(f"compose up and healthy in {time.monotonic() - started:.1f}s")
        yield project
    finally:
        project.compose("down", "-v", "--remove-orphans", "-t", "5", check=False, timeout=180)


# --- helpers --------------------------------------------------------------------------------------


def http_get(url, timeout=5):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def admin_client(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000})


def partitions(admin, topic):
    """{partition: (leader, sorted isr, sorted replicas)} of `topic`, or None while unknown."""
    entry = admin.list_topics(timeout=5).topics.get(topic)
    if entry is None or entry.error is not None or len(entry.partitions) != PARTITIONS:
        return None
    return {p.id: (p.leader, sorted(p.isrs), sorted(p.replicas)) for p in entry.partitions.values()}


def read_all(bootstrap, topic):
    """Every record below each partition's high watermark: {(partition, offset): value}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("compose-read"),
                         "enable.auto.commit": False, "socket.timeout.ms": 3000})
    try:
        highs = {}
        for p in range(PARTITIONS):
            _, highs[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        read = {}
        done = lambda: all(highs[p] == 0 or (p, highs[p] - 1) in read for p in range(PARTITIONS))  # noqa: E731
        deadline = time.monotonic() + TIMEOUT_S
        while not done():
            assert time.monotonic() < deadline, f"read {len(read)} of {sum(highs.values())} records"
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().fatal():
                    raise KafkaException(message.error())
                continue
            read[(message.partition(), message.offset())] = message.value().decode()
        return highs, read
    finally:
        consumer.close()


def produce(producer, topic, values):
    """Produces `values` (keyed by value) and waits for every delivery report: {value: (partition,
    offset)} of the acknowledged ones, and the failures."""
    acked, failed = {}, []

    def report(err, msg):
        if err is None:
            acked[msg.value().decode()] = (msg.partition(), msg.offset())
        else:
            failed.append((msg.value().decode(), str(err)))

    for value in values:
        producer.produce(topic, key=value.encode(), value=value.encode(), on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(TIMEOUT_S)
    assert remaining == 0, f"{remaining} records without a delivery report after {TIMEOUT_S}s"
    return acked, failed


# --- tests ----------------------------------------------------------------------------------------


def test_image_is_scratch_unprivileged_and_small(images):
    image, _ = images
    inspect = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]
    config = inspect["Config"]
    assert config["Entrypoint"] == ["/strom"]
    assert config["User"] == "65532:65532"
    assert {"9092/tcp", "9093/tcp", "9464/tcp"} <= set(config["ExposedPorts"])
    assert "STROM_METRICS_LISTEN=0.0.0.0:9464" in config["Env"]
    size_mb = inspect["Size"] / 1e6
    print(f"{image}: {size_mb:.1f} MB")
    assert size_mb < 200, f"image is {size_mb:.0f} MB: was the debug info stripped?"
    version = run(["docker", "run", "--rm", image, "--version"]).stdout
    assert version.startswith("strom "), version
    # Nothing but strom in there: no shell to exec.
    shell = run(["docker", "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"], check=False)
    assert shell.returncode != 0, "the image has a /bin/sh"


def test_every_node_serves_health_and_metrics_on_the_host(cluster):
    with cluster.logs_on_failure():
        ports = {f"broker-{n}": p for n, p in cluster.broker_metrics_ports.items()}
        ports.update({f"controller-{n}": p for n, p in cluster.controller_metrics_ports.items()})
        for node, port in sorted(ports.items()):
            # The probe the compose healthcheck runs inside the container, here from the host.
            probe = run([strom_bin(), "health", "--url", f"http://127.0.0.1:{port}/health/ready"], check=False)
            assert probe.returncode == 0, f"{node}: {probe.stdout} {probe.stderr}"
            assert probe.stdout.startswith("HTTP/1.1 200"), f"{node}: {probe.stdout}"
            assert http_get(f"http://127.0.0.1:{port}/health/live")[0] == 200, node
            status, body = http_get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200 and "strom_" in body, f"{node} /metrics: {status} {body[:300]}"
        # Nothing listens on a port we reserved and never published: the probe fails (exit 1).
        closed = free_ports(1)[0]
        probe = run([strom_bin(), "health", "--url", f"http://127.0.0.1:{closed}/health/ready",
                     "--timeout-ms", "1000"], check=False)
        assert probe.returncode == 1, probe


def test_internal_listener_from_inside_the_network(cluster):
    """A one-off strom container on the compose network creates, produces and consumes by service
    name (INTERNAL listener, advertised as broker-N:9092); the host reads the same records through
    the EXTERNAL listeners, and the controllers answer on their service names too."""
    topic = unique_topic("compose-internal")
    lines = [f"internal-{i:03d}" for i in range(50)]
    with cluster.logs_on_failure():
        cluster.tools("topics", "--bootstrap-server", "broker-1:9092", "--create", "--topic", topic,
                      "--partitions", "1", "--replication-factor", "3", "--config", "min.insync.replicas=2")
        listed = cluster.tools("topics", "--bootstrap-server", "broker-2:9092", "--list").stdout.split()
        assert topic in listed, listed
        cluster.tools("produce", "--bootstrap-server", "broker-3:9092", "--topic", topic, "--acks", "all",
                      input="\n".join(lines) + "\n")
        consumed = cluster.tools("consume", "--bootstrap-server", "broker-1:9092", "--topic", topic,
                                 "--from-beginning", "--max-messages", str(len(lines)),
                                 "--timeout-ms", "20000").stdout.splitlines()
        assert consumed == lines
        # The quorum knows each broker by both listeners, as compose advertises them.
        described = json.loads(cluster.tools("cluster", "describe", "--controller", "controller-2:9093",
                                             "--output", "json").stdout)
        endpoints = {b["broker_id"]: {(e["name"], e["host"], e["port"]) for e in b["endpoints"]}
                     for b in described["brokers"]}
        assert endpoints == {
            n: {("INTERNAL", f"broker-{n}", 9092), ("EXTERNAL", "127.0.0.1", cluster.kafka_ports[n])} for n in BROKERS
        }, described
        assert sorted(v["addr"] for v in described["voters"]) == [f"{c}:9093" for c in CONTROLLERS], described

        # The same records from the host, through the published EXTERNAL ports.
        consumer = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": unique_topic("compose-host"),
                             "enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            read = []
            deadline = time.monotonic() + TIMEOUT_S
            while len(read) < len(lines):
                assert time.monotonic() < deadline, f"read {read}"
                message = consumer.poll(0.2)
                if message is not None and message.error() is None:
                    read.append(message.value().decode())
            assert read == lines
        finally:
            consumer.close()


def test_prometheus_scrapes_every_node(cluster):
    if cluster.prometheus_image is None:
        skip_or_fail(f"{PROMETHEUS_BINARY} not installed (scripts/setup-test-env.sh installs it)")
    base = f"http://127.0.0.1:{cluster.prometheus_port}"

    def targets():
        status, body = http_get(f"{base}/api/v1/targets")
        assert status == 200, body
        return {(t["labels"]["job"], t["labels"]["instance"]): t["health"]
                for t in json.loads(body)["data"]["activeTargets"]}

    expected = {("strom-controllers", c) for c in CONTROLLERS} | {("strom-brokers", b) for b in BROKERS.values()}
    with cluster.logs_on_failure():
        poll_until(targets, lambda t: set(t) == expected and all(h == "up" for h in t.values()), TIMEOUT_S,
                   "Prometheus scraping all six nodes", interval_s=1)
        status, body = http_get(f"{base}/api/v1/rules")
        assert status == 200, body
        alerts = {r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
        assert "StromBrokerDown" in alerts, alerts


def test_traffic_survives_a_killed_broker(cluster):
    """Runs last: it kills a broker. RF 3, min.insync.replicas=2, acks=all from the host."""
    topic = unique_topic("compose-kill")
    with cluster.logs_on_failure():
        admin = admin_client(cluster.bootstrap())
        # Metadata through EXTERNAL advertises each broker's published host port.
        brokers = poll_until(lambda: admin.list_topics(timeout=5).brokers, lambda b: sorted(b) == [1, 2, 3],
                             TIMEOUT_S, "three brokers in Metadata")
        for n, broker in brokers.items():
            assert (broker.host, broker.port) == ("127.0.0.1", cluster.kafka_ports[n]), broker
        futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3,
                                                config={"min.insync.replicas": "2"})])
        futures[topic].result(timeout=TIMEOUT_S)
        before = poll_until(lambda: partitions(admin, topic),
                            lambda s: s is not None and all(l > 0 and isr == [1, 2, 3] for l, isr, _ in s.values()),
                            TIMEOUT_S, "leaders and full ISRs")

        producer = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 5,
                             "message.timeout.ms": TIMEOUT_S * 1000, "socket.timeout.ms": 3000})
        acked, failed = produce(producer, topic, [f"before-{i:04d}" for i in range(VALUES_PER_PHASE)])
        assert failed == [] and len(acked) == VALUES_PER_PHASE, failed[:5]

        victim = before[0][0]
        survivors = sorted(set(BROKERS) - {victim})
        killed_at = time.monotonic()
        cluster.compose("kill", "-s", "SIGKILL", BROKERS[victim])
        # `docker kill` counts as a manual stop: restart: unless-stopped leaves the node down.
        poll_until(lambda: cluster.health(BROKERS[victim]), lambda h: h == "exited", TIMEOUT_S,
                   f"{BROKERS[victim]} stopped", interval_s=0.2)

        # Keep writing through the failover: acks=all still needs (and gets) two in-sync replicas.
        more, failed = produce(producer, topic, [f"after-{i:04d}" for i in range(VALUES_PER_PHASE)])
        print(f"killed broker {victim} (leader of partition 0); {len(more)} acks=all writes done "
              f"{time.monotonic() - killed_at:.1f}s after the kill")
        assert failed == [], f"deliveries failed across the failover: {failed[:5]}"
        acked.update(more)
        after = poll_until(lambda: partitions(admin_client(cluster.bootstrap(survivors)), topic),
                           lambda s: s is not None and all(l in survivors and isr == survivors for l, isr, _ in s.values()),
                           TIMEOUT_S, f"leaders and ISRs on the survivors {survivors}")

        highs, read = read_all(cluster.bootstrap(survivors), topic)
        missing = {v: at for v, at in acked.items() if read.get(at) != v}
        assert not missing, f"{len(missing)} acknowledged records not at their offset: {list(missing.items())[:5]}"
        # Retries may write a record twice (the producer is not idempotent), never lose one.
        assert sum(highs.values()) >= len(acked), (highs, len(acked))

        # The killed broker comes back on its volume and catches up.
        cluster.compose("start", BROKERS[victim])
        cluster.wait_healthy([BROKERS[victim]])
        poll_until(lambda: partitions(admin, topic),
                   lambda s: s is not None and all(isr == [1, 2, 3] for _, isr, _ in s.values()),
                   TIMEOUT_S, f"broker {victim} back in every ISR")
        print(f"state before {before}, after the kill {after}; total {time.monotonic() - killed_at:.1f}s")
