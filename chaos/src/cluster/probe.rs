//! Asking nodes how they are over their HTTP endpoint (`/health/ready`, `/metrics`), with a plain
//! `TcpStream` and short deadlines: a paused node accepts the connection (the kernel does) but never
//! answers, and must not stall the caller.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::bail;

/// Connect deadline of one probe.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Read deadline of one probe.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Time between two polls of [`wait_ready`].
const POLL: Duration = Duration::from_millis(100);

/// GET `path` with `Connection: close`: the status code and the body (`None` on any failure).
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(READ_TIMEOUT)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// True if the node answers `/health/ready` with 200.
pub fn is_ready(metrics: SocketAddr) -> bool {
    get(metrics, "/health/ready").is_some_and(|(status, _)| status == 200)
}

/// Polls until every `(name, metrics address)` answers `/health/ready` with 200; the error names
/// the nodes that did not within `timeout`.
pub fn wait_ready(nodes: &[(String, SocketAddr)], timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let unready: Vec<&str> =
            nodes.iter().filter(|(_, addr)| !is_ready(*addr)).map(|(name, _)| name.as_str()).collect();
        if unready.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("not ready within {timeout:?}: {}", unready.join(", "));
        }
        std::thread::sleep(POLL);
    }
}

/// The value of the sample whose series is exactly `name` (`metric`, or `metric{label="value"}` with
/// the labels as exposed) in a Prometheus text exposition.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.trim().rsplit_once(' ')?;
        (series == name).then(|| value.parse().ok()).flatten()
    })
}

/// The active controller among `controllers` (id, metrics address): of those whose `/metrics` says
/// `strom_active_controller 1`, the one with the highest `strom_raft_term` (a deposed leader cut off
/// from the quorum may still believe it leads, in an older term).
pub fn active_controller(controllers: &[(u64, SocketAddr)]) -> Option<u64> {
    controllers
        .iter()
        .filter_map(|(id, addr)| {
            let (status, body) = get(*addr, "/metrics")?;
            let active = status == 200 && sample(&body, "strom_active_controller")? == 1.0;
            active.then(|| (sample(&body, "strom_raft_term").unwrap_or(0.0) as u64, *id))
        })
        .max()
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unlabelled_samples() {
        let text = "# HELP strom_active_controller 1 on the leader\n# TYPE strom_active_controller gauge\n\
                    strom_active_controller 1\nstrom_raft_term 7\nstrom_raft_term_other 9\n\
                    strom_broker_heartbeat_age_ms{broker=\"1\"} 5\n";
        assert_eq!(sample(text, "strom_active_controller"), Some(1.0));
        assert_eq!(sample(text, "strom_raft_term"), Some(7.0));
        assert_eq!(sample(text, "strom_broker_heartbeat_age_ms"), None);
        assert_eq!(sample(text, "missing"), None);
    }

    #[test]
    fn unreachable_node_is_not_ready() {
        let port = crate::cluster::ports::free_ports(1).expect("port")[0];
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(!is_ready(addr));
        let err = wait_ready(&[("broker-1".into(), addr)], Duration::from_millis(50)).expect_err("unready");
        assert!(err.to_string().contains("broker-1"), "{err}");
        assert_eq!(active_controller(&[(1, addr)]), None);
    }
}
