//! `strom health`: one HTTP/1.1 GET against a node's health endpoint, for places with no shell and no
//! curl (the `FROM scratch` image's compose and Kubernetes probes).
//!
//! ```text
//! strom health --url http://127.0.0.1:9464/health/ready
//!   ── TCP connect ──► GET /health/ready HTTP/1.1 ──► "HTTP/1.1 200 OK" + body ──► stdout, exit 0
//!                                                     anything else (503, refused, timeout) → exit 1
//! ```
//!
//! Only plain `http://host[:port][/path]` URLs are understood (the metrics listener has no TLS). The whole
//! exchange — resolve, connect, send, read — runs under one `--timeout-ms` deadline. The status line and
//! the body go to stdout; the reason for a failure goes to stderr.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::output::print_text;

/// The most of a response that is read; a health answer is a few bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Arguments of `strom health`.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// The endpoint to GET, `http://HOST[:PORT][/PATH]`; exit 0 only on status 200.
    #[arg(
        long,
        env = "STROM_HEALTH_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:9464/health/ready"
    )]
    pub url: String,
    /// Deadline for the whole request (connect, send, read), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Runs `strom health`: prints the status line and body, and fails unless the status is 200.
pub async fn run(args: HealthArgs) -> Result<()> {
    let url = HttpUrl::parse(&args.url)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let response = tokio::time::timeout(timeout, get(&url))
        .await
        .map_err(|_| anyhow::anyhow!("GET {} timed out after {} ms", args.url, args.timeout_ms))?
        .with_context(|| format!("GET {}", args.url))?;
    let mut text = response.status_line.clone();
    text.push('\n');
    let body = String::from_utf8_lossy(&response.body);
    if !body.trim().is_empty() {
        text.push_str(body.trim_end());
        text.push('\n');
    }
    print_text(&text)?;
    if response.status != 200 {
        bail!("{} answered {}", args.url, response.status_line);
    }
    Ok(())
}

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpUrl {
    /// Host name or address as written (an IPv6 address without its brackets).
    host: String,
    /// TCP port; 80 when the URL names none.
    port: u16,
    /// Request target, always starting with `/`.
    path: String,
}

impl HttpUrl {
    /// Parses `http://HOST[:PORT][/PATH]`; `HOST` may be `[v6]`.
    fn parse(text: &str) -> Result<Self> {
        let Some(rest) = text.strip_prefix("http://") else {
            bail!("`{text}` is not an http:// URL (https is not supported)");
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, "/".to_string()),
        };
        let path = if path.starts_with('/') { path } else { format!("/{path}") };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) =
                v6.split_once(']').with_context(|| format!("`{text}`: unclosed `[` in the host"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => bail!("`{text}`: unexpected `{after}` after the host"),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("`{text}` has no host");
        }
        let port = match port {
            None => 80,
            Some(port) => port.parse().with_context(|| format!("`{text}`: port `{port}` is not a number"))?,
        };
        Ok(Self { host: host.to_string(), port, path })
    }

    /// The `Host` header value.
    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What came back: the status code, the status line as sent, and the (de-chunked) body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpResponse {
    status: u16,
    status_line: String,
    body: Vec<u8>,
}

/// Sends one GET with `Connection: close` and reads the response (up to `MAX_RESPONSE_BYTES`).
async fn get(url: &HttpUrl) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .with_context(|| format!("connecting to {}", url.host_header()))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: strom-health\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header()
    );
    stream.write_all(request.as_bytes()).await.context("sending the request")?;
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(response) = parse_response(&buffer, false)? {
            return Ok(response);
        }
        let read = stream.read(&mut chunk).await.context("reading the response")?;
        if read == 0 {
            return parse_response(&buffer, true)?.context("the connection closed before a full response");
        }
        buffer.extend_from_slice(&chunk[..read]);
        if buffer.len() > MAX_RESPONSE_BYTES {
            // Enough to judge by: the status line is in there.
            return parse_response(&buffer, true)?.context("response too large");
        }
    }
}

/// Parses `bytes` as an HTTP/1.x response. Returns `None` while more bytes are needed; with `eof` the
/// body is whatever arrived (a close-delimited body, or a cut-off one).
fn parse_response(bytes: &[u8], eof: bool) -> Result<Option<HttpResponse>> {
    let Some(header_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        if eof && !bytes.is_empty() {
            bail!("malformed response: no end of headers in {:?}", String::from_utf8_lossy(bytes));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&bytes[..header_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("malformed status line `{status_line}`");
    }
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("malformed status line `{status_line}`"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &bytes[header_end + 4..];
    let body = if chunked {
        match dechunk(body) {
            Some(body) => body,
            None if eof => body.to_vec(),
            None => return Ok(None),
        }
    } else if let Some(length) = content_length {
        if body.len() < length && !eof {
            return Ok(None);
        }
        body[..length.min(body.len())].to_vec()
    } else if eof {
        body.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(HttpResponse { status, status_line, body }))
}

/// Decodes a complete chunked body; `None` until the last (zero-size) chunk has arrived.
fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if bytes.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn url_forms() -> Result<()> {
        let url = HttpUrl::parse("http://127.0.0.1:9464/health/ready")?;
        assert_eq!(url, HttpUrl { host: "127.0.0.1".into(), port: 9464, path: "/health/ready".into() });
        let url = HttpUrl::parse("http://broker-1")?;
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("broker-1", 80, "/"));
        let url = HttpUrl::parse("http://[::1]:8080/metrics?x=1")?;
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("::1", 8080, "/metrics?x=1"));
        assert_eq!(url.host_header(), "[::1]:8080");
        let url = HttpUrl::parse("http://h:1?q")?;
        assert_eq!(url.path, "/?q");
        assert!(HttpUrl::parse("https://h/").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("http://h:port/").is_err());
        assert!(HttpUrl::parse("http://[::1/").is_err());
        Ok(())
    }

    #[test]
    fn responses_by_length_chunks_and_close() -> Result<()> {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready";
        assert_eq!(parse_response(&full[..full.len() - 1], false)?, None, "waits for the whole body");
        let response = parse_response(full, false)?.context("complete")?;
        assert_eq!((response.status, response.body.as_slice()), (200, &b"ready"[..]));
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");

        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnot\r\n6\r\n ready\r\n0\r\n\r\n";
        assert_eq!(parse_response(&chunked[..chunked.len() - 7], false)?, None);
        let response = parse_response(chunked, false)?.context("complete")?;
        assert_eq!((response.status, response.body.as_slice()), (503, &b"not ready"[..]));

        let close_delimited = b"HTTP/1.0 200 OK\r\n\r\nok";
        assert_eq!(parse_response(close_delimited, false)?, None);
        assert_eq!(parse_response(close_delimited, true)?.context("at eof")?.body, b"ok");
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n", false).is_err());
        assert!(parse_response(b"garbage", true).is_err());
        assert_eq!(parse_response(b"", false)?, None);
        Ok(())
    }

    /// Serves one connection with `reply` (after reading the request head) and returns the URL.
    async fn serve_once(reply: &'static str) -> Result<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        Ok(format!("http://{addr}/health/ready"))
    }

    fn args(url: String, timeout_ms: u64) -> HealthArgs {
        HealthArgs { url, timeout_ms }
    }

    #[tokio::test]
    async fn ok_unavailable_refused_and_timeout() -> Result<()> {
        let url = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n").await?;
        run(args(url, 5000)).await?;

        let url = serve_once("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await?;
        let err = run(args(url, 5000)).await.err().context("503 must fail")?;
        assert!(err.to_string().contains("503"), "{err:#}");

        // A port nobody listens on: bind, note the port, close.
        let closed = TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
        assert!(run(args(format!("http://{closed}/"), 5000)).await.is_err());

        // Accepts (in the kernel backlog) but never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/health/ready", silent.local_addr()?);
        let err = run(args(url, 200)).await.err().context("silence must time out")?;
        assert!(err.to_string().contains("timed out"), "{err:#}");
        Ok(())
    }
}
