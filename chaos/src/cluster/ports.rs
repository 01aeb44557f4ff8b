//! Free TCP ports on 127.0.0.1 for nodes whose addresses must be known before they start.

use std::net::TcpListener;

use anyhow::Context;

/// `n` distinct ports that were free a moment ago (bound on 127.0.0.1:0, then released). Another
/// process may take one before the node binds it: callers retry a failed start on fresh ports.
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    // Hold every listener until all are picked, so the kernel cannot hand out one port twice.
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    listeners.iter().map(|l| Ok(l.local_addr().context("local addr")?.port())).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn ports_are_distinct() {
        let ports = super::free_ports(8).expect("ports");
        assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), 8);
    }
}
