"""Fixtures for running Kafka Python clients against a real `strom broker` process.

The broker binary is `$STROM_BIN`, else `target/debug/strom` (or `$CARGO_TARGET_DIR/debug/strom`);
build it first (`cargo build -p strom-cli`; scripts/test.sh does). Each test gets its own broker on
an ephemeral port with a fresh data directory; at teardown the broker must still be running and
must exit cleanly on SIGTERM.
"""

import os
import pathlib
import queue
import signal
import subprocess
import threading
import time
import uuid

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30
TERMINATE_TIMEOUT_S = 30


def strom_bin():
    """Path of the strom binary to test."""
    explicit = os.environ.get("STROM_BIN")
    if explicit:
        if not os.path.isfile(explicit):
            raise RuntimeError(f"STROM_BIN={explicit} is not a file")
        return explicit
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    path = target / "debug" / "strom"
    if not path.is_file():
        raise RuntimeError(
            f"strom binary not found at {path}: build it with `cargo build -p strom-cli` or set STROM_BIN"
        )
    return str(path)


def wait_until(condition, timeout_s=10.0, interval_s=0.05):
    """Polls `condition()` until it returns a truthy value (returned) or the timeout passes (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)


def poll_until(probe, check, timeout_s=30.0, what="the condition", interval_s=0.05):
    """Calls `probe()` until `check(value)` holds and returns that value; fails the test with the
    last value seen when `timeout_s` passes. `probe` exceptions count as "not yet" (a broker that was
    just killed or restarted may refuse connections for a while)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        try:
            value = probe()
        except Exception as error:  # noqa: BLE001 - any client error is "not yet" until the deadline
            value = error
        if not isinstance(value, Exception) and check(value):
            return value
        last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s}s; last seen: {last!r}")
        time.sleep(interval_s)


def unique_topic(prefix):
    """A topic name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class BrokerProcess:
    """A `strom broker` child process listening on 127.0.0.1 with an ephemeral port (or, with
    `command="controller"` and `extra_args`, a `strom controller`)."""

    def __init__(self, data_dir, log_path, config_toml=None, extra_args=(), command="broker"):
        self.data_dir = pathlib.Path(data_dir)
        self.log_path = pathlib.Path(log_path)
        self.config_path = None
        if config_toml is not None:
            self.config_path = self.data_dir.parent / "broker.toml"
            self.config_path.write_text(config_toml)
        self.extra_args = list(extra_args)
        self.command = command
        self.ready_prefix = f"strom {command} ready: "
        self.process = None
        self.bootstrap = None
        self.node_id = None

    def start(self):
        args = [strom_bin(), self.command, "--data-dir", str(self.data_dir)]
        if self.command == "broker":
            args += ["--listener", "127.0.0.1:0"]
        args += self.extra_args
        if self.config_path is not None:
            args += ["--config", str(self.config_path)]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        # Many nodes run at once: their metrics endpoints take free ports.
        env.setdefault("STROM_METRICS_LISTEN", "127.0.0.1:0")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env, text=True
        )
        lines = queue.Queue()

        def pump():
            # Keep draining stdout for the life of the process so it never blocks on a full pipe.
            for line in self.process.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"strom {self.command} not ready within {READY_TIMEOUT_S}s; log: {self.log_tail()}")
            try:
                line = lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait(timeout=5)
                raise RuntimeError(f"strom broker exited ({code}) before ready; log: {self.log_tail()}")
            if line.startswith(self.ready_prefix):
                fields = dict(f.split("=", 1) for f in line[len(self.ready_prefix):].split() if "=" in f)
                self.bootstrap = fields.get("kafka") or fields.get("grpc")
                self.node_id = int(fields["node_id"])
                return self

    def is_alive(self):
        return self.process is not None and self.process.poll() is None

    def terminate(self):
        """SIGTERM, then wait; returns the exit code (kills and raises if it does not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=TERMINATE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"strom broker did not exit within {TERMINATE_TIMEOUT_S}s of SIGTERM")
        finally:
            self._log.close()

    def kill(self):
        """SIGKILL (no shutdown of any kind), then reap; a no-op if it is not running."""
        if self.is_alive():
            self.process.kill()
            self.process.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def pause(self):
        """SIGSTOP: the process keeps its sockets but does nothing (no heartbeats, no fetches)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        """SIGCONT after `pause`."""
        self.process.send_signal(signal.SIGCONT)

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "broker_config(toml): broker config TOML for the `broker` and `cluster` fixtures"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def broker(tmp_path, request):
    """A running broker; yields the BrokerProcess (use `.bootstrap`). Mark a test (or module, with
    `pytestmark`) with `@pytest.mark.broker_config("key = value\\n…")` to start it with that TOML config."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    marker = request.node.get_closest_marker("broker_config")
    config_toml = marker.args[0] if marker else None
    process = BrokerProcess(data_dir, tmp_path / "broker.log", config_toml=config_toml).start()
    try:
        yield process
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            print(f"--- strom broker log (tail) ---\n{process.log_tail()}")
        alive = process.is_alive()
        code = process.terminate() if alive else process.process.returncode
        process.kill()
        assert alive, f"strom broker died during the test (exit {code}); log:\n{process.log_tail()}"
        assert code == 0, f"strom broker exited with {code} on SIGTERM; log:\n{process.log_tail()}"


@pytest.fixture
def bootstrap(broker):
    """`bootstrap.servers` of the test's broker."""
    return broker.bootstrap


def free_ports(n):
    """`n` distinct ports that were free a moment ago."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Cluster:
    """Three `strom controller` processes (a Raft quorum) and three `strom broker` processes."""

    SESSION_TIMEOUT_MS = 2000

    def __init__(self, tmp_path, brokers=3, session_timeout_ms=SESSION_TIMEOUT_MS, broker_config=None):
        """`broker_config`: TOML (BrokerConfig keys, e.g. `replica_lag_time_max_ms = 1000`) every
        broker is started with."""
        ports = free_ports(3)
        voters = ",".join(f"{i + 1}=127.0.0.1:{port}" for i, port in enumerate(ports))
        self.controller_addrs = ",".join(f"127.0.0.1:{port}" for port in ports)
        self.controllers = []
        for i, port in enumerate(ports):
            node = tmp_path / f"controller-{i + 1}"
            node.mkdir()
            args = [
                "--node-id", str(i + 1), "--listen", f"127.0.0.1:{port}", "--voters", voters,
                "--cluster-id", "py-cluster", "--broker-session-timeout-ms", str(session_timeout_ms),
                "--election-timeout-ms", "200..400",
            ]
            self.controllers.append(
                BrokerProcess(node / "data", node / "log", extra_args=args, command="controller").start()
            )
        self.brokers = {}
        for i in range(brokers):
            node = tmp_path / f"broker-{i + 1}"
            node.mkdir()
            args = ["--node-id", str(i + 1), "--controllers", self.controller_addrs, "--heartbeat-interval-ms", "200"]
            self.brokers[i + 1] = BrokerProcess(
                node / "data", node / "log", config_toml=broker_config, extra_args=args
            ).start()

    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers.values() if b.is_alive())

    def kill_broker(self, node_id):
        """kill -9 broker `node_id`: the controllers notice only when its heartbeats stop (fenced
        after the session timeout)."""
        broker = self.brokers[node_id]
        assert broker.is_alive(), f"broker {node_id} is not running"
        broker.kill()

    def restart_broker(self, node_id):
        """Starts a killed broker again with the same node id, data directory and config (on a new
        Kafka port); returns once it printed its ready line (registered, not yet unfenced)."""
        broker = self.brokers[node_id]
        assert not broker.is_alive(), f"broker {node_id} is still running"
        broker.start()
        return broker

    def stop(self):
        for node in list(self.brokers.values()) + self.controllers:
            node.kill()


@pytest.fixture
def cluster(tmp_path, request):
    """A 3-controller, 3-broker cluster of real processes. Mark a test with
    `@pytest.mark.broker_config("key = value\\n…")` to start its brokers with that TOML config."""
    marker = request.node.get_closest_marker("broker_config")
    running = Cluster(tmp_path, broker_config=marker.args[0] if marker else None)
    try:
        yield running
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            for node in list(running.brokers.values()) + running.controllers:
                print(f"--- {node.command} log (tail) ---\n{node.log_tail()}")
        running.stop()
