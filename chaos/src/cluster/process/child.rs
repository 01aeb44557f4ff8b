//! [`NodeChild`]: one `strom` child process whose stdout is watched for a ready line and whose
//! output goes to the node's log file (appended across restarts).
//!
//! ```text
//!  spawn ──► strom <args>     (STROM_* variables of this process removed, RUST_LOG and `env` set)
//!              │ stderr ──────────────────────────────► <log_dir>/<node>.log
//!              │ stdout ──► reader thread ──"stdout: …"─► <log_dir>/<node>.log
//!              │                          └─ready line─► channel ──► wait_ready(prefix)
//! ```

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::faketime;
use crate::cluster::command;

/// How often a starting or stopping process is polled.
const POLL: Duration = Duration::from_millis(20);
/// Bytes of the log file quoted when a node fails to start.
const LOG_TAIL_BYTES: u64 = 4000;

/// A running `strom` node. Dropping it kills the process (SIGKILL).
pub struct NodeChild {
    label: String,
    /// `None` once reaped. A mutex so liveness can be checked through `&self`.
    child: Mutex<Option<Child>>,
    ready: mpsc::Receiver<String>,
    log_path: PathBuf,
    /// Runs under libfaketime: its `/dev/shm` files are removed once it is reaped.
    faketime: bool,
}

impl NodeChild {
    /// Runs `bin args…` with `env` added and stderr appended to `log_path`; lines of stdout starting
    /// with `ready_prefix` are kept for [`NodeChild::wait_ready`], every stdout line is logged too.
    pub fn spawn(
        bin: &Path,
        args: &[String],
        env: &[(String, OsString)],
        label: &str,
        log_path: &Path,
        rust_log: &str,
        ready_prefix: &'static str,
    ) -> anyhow::Result<Self> {
        let mut log = open_log(log_path)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        writeln!(log, "=== strom-chaos: starting {label} at unix ms {now}: {}", args.join(" "))?;
        let mut command = Command::new(bin);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log.try_clone()?);
        // A STROM_CONFIG or STROM_DATA_DIR of the runner's environment would reach every node (clap
        // reads them): the nodes get exactly the flags above.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("STROM_") {
                command.env_remove(key);
            }
        }
        command.env("RUST_LOG", rust_log);
        command.envs(env.iter().map(|(key, value)| (key, value)));
        let mut child =
            command.spawn().with_context(|| format!("cannot run {} for {label}", bin.display()))?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let (tx, ready) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Keeps draining after the ready line (nobody listens then) so the node never blocks.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "stdout: {line}");
                if line.starts_with(ready_prefix) {
                    let _ = tx.send(line);
                }
            }
        });
        Ok(Self {
            label: label.to_string(),
            child: Mutex::new(Some(child)),
            ready,
            log_path: log_path.to_path_buf(),
            faketime: faketime::preloads(env),
        })
    }

    /// Waits up to `timeout` for the ready line and returns it; errors (with the log's tail) if the
    /// process exits first or is still not ready at the deadline (it is then killed).
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.ready.recv_timeout(POLL) {
                Ok(line) => return Ok(line),
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = self.reap() {
                bail!("{} exited before it was ready ({status}); log tail:\n{}", self.label, self.log_tail());
            }
            if Instant::now() >= deadline {
                self.kill9();
                bail!("{} was not ready within {timeout:?}; log tail:\n{}", self.label, self.log_tail());
            }
        }
    }

    /// Process id while it has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.lock().as_ref().map(Child::id)
    }

    /// True while the process has not exited (an exited one is reaped).
    pub fn is_alive(&self) -> bool {
        self.pid().is_some() && self.reap().is_none()
    }

    /// The exit status if the process has exited (it is then reaped and forgotten).
    fn reap(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.lock();
        let status = child.as_mut()?.try_wait().ok()??;
        if let Some(reaped) = child.take() {
            self.reaped(reaped.id());
        }
        Some(status)
    }

    /// Cleans up after process `pid`, which has been waited for.
    fn reaped(&self, pid: u32) {
        if self.faketime {
            faketime::remove_shm(pid);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, …).
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid().with_context(|| format!("{} is not running", self.label))?;
        command::signal(pid, signal).with_context(|| self.label.clone())
    }

    /// SIGTERM (after SIGCONT, in case it is frozen), then waits up to `timeout` for the exit; on
    /// timeout the process is killed and an error returned.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.signal("CONT")?;
        self.signal("TERM")?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.reap() {
                tracing::info!(node = %self.label, %status, "stopped");
                return Ok(());
            }
            if self.pid().is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill9();
                bail!("{} did not exit within {timeout:?} of SIGTERM; killed", self.label);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Kills the process with SIGKILL (works on a frozen one too) and reaps it.
    pub fn kill9(&mut self) {
        let taken = self.lock().take();
        if let Some(mut child) = taken {
            // An error means it already exited; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            self.reaped(child.id());
        }
    }

    /// The last few KB of the node's log file.
    fn log_tail(&self) -> String {
        let read = || -> std::io::Result<String> {
            let mut file = File::open(&self.log_path)?;
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        read().unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path.display()))
    }
}

impl Drop for NodeChild {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn open_log(path: &Path) -> anyhow::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create log dir {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))
}
