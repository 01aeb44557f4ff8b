//! Multi-process test support: `strom controller` child processes on reserved ports, and gRPC admin
//! clients to them.
//!
//! ```text
//!  test ──spawn──► strom controller --node-id N --listen 127.0.0.1:P --data-dir D --voters 1=…,2=…,3=…
//!    ▲                 │ stdout: "strom controller ready: grpc=<ip:port> node_id=<id>"
//!    └── addr ◄────────┘
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use strom_proto::controller::controller_admin_client::ControllerAdminClient;
use strom_proto::controller::{DescribeQuorumRequest, DescribeQuorumResponse};
use tonic::transport::{Channel, Endpoint};

/// Environment variable naming the `strom` binary; defaults to `<target>/debug/strom`.
pub const STROM_BIN_ENV: &str = "STROM_BIN";

/// How long a controller may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

const READY_PREFIX: &str = "strom controller ready: ";

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
             `cargo build -p strom-cli` or set {STROM_BIN_ENV}"
        )
    })
}

/// `n` free ports on 127.0.0.1 (bound, then released, so a controller can bind them by number).
pub fn reserve_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("reserving ports")?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// `1=127.0.0.1:P1,2=127.0.0.1:P2,…` for ports[i] ↔ node id i+1.
pub fn voters_flag(ports: &[u16]) -> String {
    ports
        .iter()
        .enumerate()
        .map(|(i, port)| format!("{}=127.0.0.1:{port}", i + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `strom controller` child process. Dropping it kills the process (SIGKILL).
pub struct ControllerProcess {
    child: Child,
    /// Raft node id.
    pub node_id: u64,
    /// gRPC address from the ready line.
    pub addr: SocketAddr,
}

impl ControllerProcess {
    /// Starts node `node_id` on `port` with `data_dir`, waiting for its ready line. Its stderr (logs)
    /// is appended to `<data_dir>/controller.log`.
    pub fn spawn(node_id: u64, port: u16, data_dir: &Path, voters: &str, extra: &[&str]) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("controller.log"))?;
        let mut child = Command::new(strom_bin())
            .arg("controller")
            .args(["--node-id", &node_id.to_string()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--voters", voters])
            .args(extra)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            // Several controllers run at once: their metrics endpoints take free ports.
            .env("STROM_METRICS_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("spawning strom controller")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix(READY_PREFIX) {
                    let _ = tx.send(rest.to_string());
                }
            }
        });
        let ready = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                bail!(
                    "controller {node_id} printed no ready line; see {}/controller.log",
                    data_dir.display()
                );
            }
        };
        let addr = ready
            .split_whitespace()
            .find_map(|field| field.strip_prefix("grpc="))
            .context("ready line without grpc=")?
            .parse()
            .context("ready line address")?;
        Ok(Self { child, node_id, addr })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A lazily connecting admin client to `addr`.
pub fn admin(addr: SocketAddr) -> Result<ControllerAdminClient<Channel>> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    Ok(ControllerAdminClient::new(channel).max_decoding_message_size(256 * 1024 * 1024))
}

/// `DescribeQuorum` on `client`, failing after 500 ms.
pub async fn describe(client: &ControllerAdminClient<Channel>) -> Result<DescribeQuorumResponse> {
    let mut client = client.clone();
    let call = client.describe_quorum(DescribeQuorumRequest {});
    let response = tokio::time::timeout(Duration::from_millis(500), call)
        .await
        .context("DescribeQuorum timed out")??;
    Ok(response.into_inner())
}

/// The `p`-th percentile (0..=100) of sorted `values`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
