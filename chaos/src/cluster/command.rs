//! Running a helper command (`docker`, `docker-compose`, `kill`, `mount`) with a deadline.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How often a running command is polled for its exit.
const POLL: Duration = Duration::from_millis(20);

/// Runs `command` to completion with captured stdout and stderr; kills it after `timeout`.
/// Errors if it cannot be spawned, times out or exits unsuccessfully (with its output tail).
pub fn run(command: &mut Command, timeout: Duration) -> anyhow::Result<String> {
    let output = run_unchecked(command, timeout)?;
    if !output.status.success() {
        bail!(
            "`{}` exited {}: {}{}",
            describe(command),
            output.status,
            tail(&output.stderr),
            tail(&output.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Like [`run`], but an unsuccessful exit is returned, not an error.
pub fn run_unchecked(command: &mut Command, timeout: Duration) -> anyhow::Result<Output> {
    let name = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{name}`"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = match wait(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{name}` did not finish within {timeout:?}");
        }
    };
    Ok(Output { status, stdout: join(stdout), stderr: join(stderr) })
}

/// Polls `child` until it exits or `timeout` passes.
fn wait(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Reads a pipe to its end on a thread, so a chatty command never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    }))
}

fn join(reader: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    reader.and_then(|r| r.join().ok()).unwrap_or_default()
}

/// `program arg arg…` for messages.
fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// The last ~1500 characters of some output, trimmed.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let start = text.char_indices().rev().nth(1500).map_or(0, |(i, _)| i);
    text[start..].to_string()
}

/// Sends `signal` (`KILL`, `TERM`, `STOP`, `CONT`) to `pid` with the shell's `kill` builtin (std can
/// only SIGKILL its own children, and this crate forbids `unsafe` for `libc::kill`).
pub fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let script = format!("kill -{signal} \"$1\"");
    run(Command::new("sh").args(["-c", &script, "sh", &pid.to_string()]), Duration::from_secs(10))
        .with_context(|| format!("SIG{signal} to pid {pid}"))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_fails_on_exit_code_or_timeout() {
        let out = run(Command::new("sh").args(["-c", "echo hi; echo err >&2"]), Duration::from_secs(10));
        assert_eq!(out.expect("sh runs").trim(), "hi");
        let err = run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]), Duration::from_secs(10))
            .expect_err("exit 3");
        assert!(err.to_string().contains("boom"), "{err}");
        let err = run(Command::new("sleep").arg("5"), Duration::from_millis(100)).expect_err("times out");
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
