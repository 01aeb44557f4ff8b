//! [`NodeProcess`]: one `strom` child process (controller or broker) whose stdout is watched for a
//! ready line and whose stderr is forwarded to the test's stderr, each line prefixed with the node's
//! label, while the most recent lines are kept so a test can assert on an error the node exited with.
//!
//! ```text
//!  spawn ──► strom <args>
//!              │ stdout ──► channel ──► wait_ready(prefix) → Ready(line) | Exited(status) | TimedOut
//!              │ stderr ──► "[label] …" on the test's stderr + last STDERR_TAIL_LINES lines kept
//! ```

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{strom_bin, wait_until};

/// How many of a node's most recent stderr lines are kept for [`NodeProcess::stderr_tail`].
pub const STDERR_TAIL_LINES: usize = 400;

/// How a node's start ended.
#[derive(Debug)]
pub enum Startup {
    /// The node printed a stdout line starting with the awaited prefix (the whole line).
    Ready(String),
    /// The node exited first.
    Exited(ExitStatus),
    /// Neither happened in time; the node is still running.
    TimedOut,
}

/// A `strom` child process. Dropping it kills the process (SIGKILL).
pub struct NodeProcess {
    label: String,
    child: Option<Child>,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl NodeProcess {
    /// Runs `strom <args>` (with `RUST_LOG=info` unless the test sets `RUST_LOG`).
    pub fn spawn<I, S>(label: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let label = label.into();
        let bin = strom_bin();
        let mut command = Command::new(&bin);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info,openraft=warn");
        }
        // Many nodes run at once: their metrics endpoints take free ports unless the args say otherwise.
        command.env("STROM_METRICS_LISTEN", "127.0.0.1:0");
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run strom binary {} for {label}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Keep draining after the ready line (nobody listens then) so the node never blocks.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let (reader_tail, prefix) = (tail.clone(), label.clone());
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{prefix}] {line}");
                let mut tail = reader_tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Self { label, child: Some(child), stdout: rx, stderr: tail, stderr_reader: Some(stderr_reader) }
    }

    /// The label its stderr lines are prefixed with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Waits up to `timeout` for a stdout line starting with `prefix`; other stdout lines are echoed
    /// to stderr. On exit, the stderr reader is joined first, so [`Self::stderr_tail`] is complete.
    pub fn wait_ready(&mut self, prefix: &str, timeout: Duration) -> Startup {
        let deadline = Instant::now() + timeout;
        loop {
            match self.stdout.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.starts_with(prefix) => return Startup::Ready(line),
                Ok(line) => eprintln!("[{} stdout] {line}", self.label),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is exiting; reap it.
                    if let Some(status) = self.wait_exit(Duration::from_secs(10)) {
                        return Startup::Exited(status);
                    }
                }
            }
            if let Some(status) = self.try_exit_status() {
                return Startup::Exited(status);
            }
            if Instant::now() >= deadline {
                return Startup::TimedOut;
            }
        }
    }

    /// Like [`Self::wait_ready`] but panics (with the node's recent stderr) unless the node is ready;
    /// returns the ready line.
    pub fn expect_ready(&mut self, prefix: &str, timeout: Duration) -> String {
        match self.wait_ready(prefix, timeout) {
            Startup::Ready(line) => line,
            Startup::Exited(status) => panic!(
                "{} exited before printing `{prefix}` ({status}); stderr tail:\n{}",
                self.label,
                self.stderr_tail()
            ),
            Startup::TimedOut => {
                self.kill9();
                panic!("{} did not print `{prefix}` within {timeout:?}", self.label)
            }
        }
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Exit status once exited (the child is then reaped and forgotten, and stderr fully read).
    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.join_stderr();
                Some(status)
            }
            _ => None,
        }
    }

    /// Polls until the process exits or `timeout` passes; `None` on timeout or if it was never
    /// running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.try_exit_status();
            status.is_some() || self.child.is_none()
        });
        status
    }

    /// Sends SIGTERM (a clean stop) and waits up to `timeout` for the exit status; `None` if it did not
    /// exit in time (the process is then killed) or was not running.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.pid()?;
        // The shell's builtin `kill`: std cannot send SIGTERM.
        let sent = Command::new("sh").args(["-c", "kill -TERM \"$1\"", "sh", &pid.to_string()]).status();
        if !sent.is_ok_and(|s| s.success()) {
            return None;
        }
        let status = self.wait_exit(timeout);
        if status.is_none() {
            self.kill9();
        }
        status
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) with the shell's `kill`; false if the process is not running
    /// or the signal could not be sent.
    pub fn signal(&self, signal: &str) -> bool {
        let Some(pid) = self.pid() else { return false };
        let command = format!("kill -{signal} \"$1\"");
        Command::new("sh").args(["-c", &command, "sh", &pid.to_string()]).status().is_ok_and(|s| s.success())
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it already exited; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            self.join_stderr();
        }
    }

    /// The node's most recent stderr lines, newline-separated.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }

    /// Waits for the stderr reader to reach EOF (the process has exited, so it will).
    fn join_stderr(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}
