//! A minimal HTTP/1.1 GET for the tests (node endpoints, Prometheus' API) and a reader for the
//! Prometheus text format.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GET `path` with `Connection: close`: the status code and the (de-chunked) body.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Some((status, dechunk(body)));
    }
    Some((status, body.to_string()))
}

/// The body of a 200 answer to GET `path`.
pub fn get_ok(addr: SocketAddr, path: &str) -> Option<String> {
    get(addr, path).filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a query-string value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the sample `name` whose labels include every pair of `labels`, in a Prometheus
/// text exposition (the first such sample).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, label_text) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        let has = |(k, v): &(&str, &str)| label_text.split(',').any(|pair| pair == format!("{k}=\"{v}\""));
        if !labels.iter().all(has) {
            return None;
        }
        match value {
            "+Inf" => Some(f64::INFINITY),
            value => value.parse().ok(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples() {
        let text = "# HELP a x\na{g=\"1\",t=\"x\"} 3\na{g=\"2\",t=\"x\"} 4.5\nb 7\nc +Inf\n";
        assert_eq!(sample(text, "a", &[("g", "2")]), Some(4.5));
        assert_eq!(sample(text, "a", &[("t", "x")]), Some(3.0));
        assert_eq!(sample(text, "b", &[]), Some(7.0));
        assert_eq!(sample(text, "c", &[]), Some(f64::INFINITY));
        assert_eq!(sample(text, "a", &[("g", "3")]), None);
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
