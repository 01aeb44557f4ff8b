//! Test support for Strom's real-client integration tests.
//!
//! [`BrokerProcess`] runs the `strom` binary as a child process on an ephemeral port with its own data
//! directory, exactly as an operator would run it, so tests exercise the real startup, listener, crash
//! and restart paths. [`kafka`] builds librdkafka clients pointed at such a broker.
//! [`cluster::ClusterProcesses`] runs a whole cluster (controllers and brokers) the same way.
//!
//! ```text
//!  test ──spawn──► strom broker --data-dir D --listener 127.0.0.1:0 [--config F]
//!    ▲                 │ stdout: "strom broker ready: kafka=<ip:port> node_id=<id> data_dir=<dir>"
//!    └── addr ◄────────┘
//! ```
//!
//! Tests never sleep to wait for a condition: they poll with a deadline ([`wait_until`]).

pub mod cluster;
pub mod http;
pub mod kafka;
pub mod node;
pub mod replica;
pub mod wire;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

/// How long a broker may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a broker may take to exit after SIGTERM.
pub const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable naming the `strom` binary to run; defaults to `<target>/debug/strom`.
pub const STROM_BIN_ENV: &str = "STROM_BIN";

const READY_PREFIX: &str = "strom broker ready: ";

/// Where a broker keeps its data: a temporary directory removed with the [`BrokerProcess`], or a
/// directory the test owns.
enum DataDir {
    Temp(TempDir),
    Given(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(dir) => dir.path(),
            Self::Given(path) => path,
        }
    }
}

/// Options for starting a broker process.
#[derive(Debug, Default, Clone)]
pub struct BrokerOptions {
    /// Extra TOML config contents, written to a file passed with `--config`.
    pub config_toml: Option<String>,
    /// Data directory to use instead of a fresh temporary one (kept after the test).
    pub data_dir: Option<PathBuf>,
}

impl BrokerOptions {
    /// Adds TOML config contents (broker keys and a `[topic_defaults]` table).
    pub fn config(mut self, toml: impl Into<String>) -> Self {
        self.config_toml = Some(toml.into());
        self
    }

    /// Uses an existing data directory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
}

/// A `strom broker` child process listening on an ephemeral port.
///
/// Dropping it kills the process (SIGKILL) and removes a temporary data directory.
pub struct BrokerProcess {
    child: Option<Child>,
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    node_id: i32,
    /// Holds the config file, if any; removed on drop.
    _scratch: TempDir,
    config_path: Option<PathBuf>,
    data_dir: DataDir,
    starts: u32,
}

impl BrokerProcess {
    /// Starts a broker with default config on a fresh temporary data directory.
    pub fn start() -> Self {
        Self::start_with(BrokerOptions::default())
    }

    /// Starts a broker with extra TOML config contents on a fresh temporary data directory.
    pub fn start_with_config(toml: &str) -> Self {
        Self::start_with(BrokerOptions::default().config(toml))
    }

    /// Starts a broker and waits (up to [`READY_TIMEOUT`]) for its ready line.
    pub fn start_with(options: BrokerOptions) -> Self {
        let scratch = tempfile::Builder::new().prefix("strom-test-").tempdir().expect("create scratch dir");
        let data_dir = match options.data_dir {
            Some(path) => DataDir::Given(path),
            None => DataDir::Temp(
                tempfile::Builder::new().prefix("strom-data-").tempdir().expect("create temp data dir"),
            ),
        };
        let config_path = options.config_toml.map(|toml| {
            let path = scratch.path().join("broker.toml");
            let mut file = std::fs::File::create(&path).expect("create config file");
            file.write_all(toml.as_bytes()).expect("write config file");
            path
        });
        let mut broker = Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics: None,
            node_id: -1,
            _scratch: scratch,
            config_path,
            data_dir,
            starts: 0,
        };
        broker.spawn();
        broker
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "broker process already running");
        let bin = strom_bin();
        let mut command = Command::new(&bin);
        command
            .arg("broker")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--listener")
            .arg("127.0.0.1:0")
            .env("STROM_METRICS_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Broker logs land in the test's own stderr, which the test runner shows on failure.
            .stderr(Stdio::inherit());
        if let Some(config) = &self.config_path {
            command.arg("--config").arg(config);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let mut child =
            command.spawn().unwrap_or_else(|e| panic!("cannot run strom binary {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Forward every stdout line until the process closes it; the first ready line wins.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // After the ready line nobody listens; keep draining so the broker never blocks.
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        self.starts += 1;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some((addr, node_id)) = parse_ready_line(&line) {
                        self.addr = addr;
                        self.metrics = cluster::parse_metrics_addr(&line);
                        self.node_id = node_id;
                        return;
                    }
                    eprintln!("[strom stdout] {line}");
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.wait_for_exit(Duration::from_secs(5));
                    panic!("strom broker exited before printing its ready line (status {status:?})");
                }
            }
            if let Some(status) = self.try_exit_status() {
                panic!("strom broker exited before printing its ready line: {status}");
            }
            if Instant::now() >= deadline {
                self.kill9();
                panic!("strom broker did not print its ready line within {READY_TIMEOUT:?}");
            }
        }
    }

    /// The Kafka listener address from the ready line.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics endpoint (`/metrics`, `/health/*`) from the ready line.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics.expect("the ready line names a metrics endpoint")
    }

    /// `bootstrap.servers` value for clients.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Node id from the ready line.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The data directory the broker runs on.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Process id of the running broker, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process has been started (1 after start, 2 after one restart, …).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Exit status if the process has exited (the child is then reaped and forgotten).
    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Polls until the process exits or `timeout` passes; `None` on timeout.
    fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.try_exit_status();
            status.is_some() || self.child.is_none()
        });
        status
    }

    /// Kills the process with SIGKILL (no chance to flush) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means it already exited; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to [`TERMINATE_TIMEOUT`] for a clean exit; returns the exit status.
    ///
    /// Panics (after SIGKILL) if the process does not exit in time.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().expect("terminate: broker is not running");
        // The shell's builtin `kill`: std cannot send SIGTERM, and procps may be absent.
        let sent = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid.to_string()])
            .status()
            .expect("run sh -c 'kill -TERM'");
        assert!(sent.success(), "kill -TERM {pid} failed: {sent}");
        match self.wait_for_exit(TERMINATE_TIMEOUT) {
            Some(status) => status,
            None => {
                self.kill9();
                panic!("strom broker did not exit within {TERMINATE_TIMEOUT:?} after SIGTERM");
            }
        }
    }

    /// Starts the broker again on the same data directory and config (a new ephemeral port: read
    /// [`BrokerProcess::addr`] again). A still-running process is terminated first.
    pub fn restart(&mut self) {
        if self.is_alive() {
            let status = self.terminate();
            assert!(status.success(), "broker exited uncleanly on SIGTERM before restart: {status}");
        }
        self.child = None;
        self.spawn();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        // The config file and a temporary data dir are removed by their own Drop, after this.
        self.kill9();
    }
}

/// Parses `strom broker ready: kafka=<ip:port> node_id=<id> data_dir=<dir>`.
pub fn parse_ready_line(line: &str) -> Option<(SocketAddr, i32)> {
    let rest = line.trim().strip_prefix(READY_PREFIX)?;
    let mut addr = None;
    let mut node_id = None;
    for field in rest.split_whitespace() {
        if let Some(value) = field.strip_prefix("kafka=") {
            addr = value.parse().ok();
        } else if let Some(value) = field.strip_prefix("node_id=") {
            node_id = value.parse().ok();
        }
    }
    Some((addr?, node_id?))
}

/// The bound address of every listener on a ready line's `listeners=NAME://ADDR,...` field, in
/// order; empty when the line has no such field.
pub fn parse_ready_listeners(line: &str) -> Vec<(String, SocketAddr)> {
    let Some(field) = line.split_whitespace().find_map(|field| field.strip_prefix("listeners=")) else {
        return Vec::new();
    };
    field
        .split(',')
        .filter_map(|entry| {
            let (name, addr) = entry.split_once("://")?;
            Some((name.to_string(), addr.parse().ok()?))
        })
        .collect()
}

/// The `strom` binary: `$STROM_BIN`, else `strom` in the cargo target profile directory this test
/// executable was built into (`<target>/debug/deps/<test>` → `<target>/debug/strom`).
pub fn strom_bin() -> PathBuf {
    if let Some(path) = std::env::var_os(STROM_BIN_ENV) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{STROM_BIN_ENV}={} is not a file", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("current test executable");
    let name = format!("strom{}", std::env::consts::EXE_SUFFIX);
    let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(3).map(|dir| dir.join(&name)).collect();
    candidates.iter().find(|path| path.is_file()).cloned().unwrap_or_else(|| {
        panic!(
            "strom binary not found (looked at {candidates:?}); build it first with \
             `cargo build -p strom-cli` (scripts/test.sh does) or set {STROM_BIN_ENV}"
        )
    })
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A topic name no other test (or earlier run) uses: `<prefix>-<pid>-<nanos>-<counter>`.
pub fn unique_topic(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ready_line() {
        let line = "strom broker ready: kafka=127.0.0.1:41234 node_id=1 data_dir=/tmp/x y";
        assert_eq!(parse_ready_line(line), Some((SocketAddr::from(([127, 0, 0, 1], 41234)), 1)));
        assert_eq!(parse_ready_line("strom broker starting"), None);
        assert_eq!(parse_ready_line("strom broker ready: node_id=1"), None);
        let line = "strom broker ready: kafka=127.0.0.1:1 node_id=1 data_dir=/tmp/x \
                    listeners=INTERNAL://127.0.0.1:1,EXTERNAL://[::1]:2 metrics=http://127.0.0.1:3";
        assert_eq!(parse_ready_line(line), Some((SocketAddr::from(([127, 0, 0, 1], 1)), 1)));
        let listeners = parse_ready_listeners(line);
        assert_eq!(listeners[0], ("INTERNAL".to_string(), SocketAddr::from(([127, 0, 0, 1], 1))));
        assert_eq!(listeners[1].1, "[::1]:2".parse::<SocketAddr>().expect("v6"));
        assert!(parse_ready_listeners("strom broker ready: kafka=127.0.0.1:1 node_id=1").is_empty());
    }

    #[test]
    fn unique_topics_differ() {
        assert_ne!(unique_topic("t"), unique_topic("t"));
    }

    #[test]
    fn wait_until_reports_timeout() {
        let mut calls = 0;
        assert!(!wait_until(Duration::from_millis(50), || {
            calls += 1;
            false
        }));
        assert!(calls >= 2);
        assert!(wait_until(Duration::from_secs(1), || true));
    }
}
