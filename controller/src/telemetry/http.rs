//! The node's HTTP endpoint: `GET /metrics` (Prometheus text), `GET /health/live` (200 while the
//! process serves) and `GET /health/ready` (200, or 503 with the reason). HTTP/1.1, one request per
//! connection; requests are bounded in size and time, anything else gets 404/405/400.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::registry::Registry;

/// Readiness check: `Ok` when the node is ready, else why not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What the endpoint serves.
#[derive(Clone)]
pub struct HttpEndpoints {
    /// The node's metrics.
    pub registry: Arc<Registry>,
    /// The node's readiness.
    pub ready: Readiness,
}

/// Largest request head accepted.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `listener` until `shutdown` flips to true.
pub async fn serve(listener: TcpListener, endpoints: HttpEndpoints, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream, endpoints.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "metrics listener accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn handle(mut stream: TcpStream, endpoints: HttpEndpoints) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let response = respond(&head, &endpoints).await;
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// Reads up to the end of the request head (`\r\n\r\n`); `None` if the peer closes or sends too much.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buf[..end].to_vec()).ok();
        }
        if buf.len() > MAX_REQUEST_BYTES {
            return None;
        }
    }
}

async fn respond(head: &str, endpoints: &HttpEndpoints) -> Vec<u8> {
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    if !matches!(method, "GET" | "HEAD") {
        return response(405, "text/plain", "method not allowed\n", method == "HEAD");
    }
    let head_only = method == "HEAD";
    match path {
        "/metrics" => {
            let registry = endpoints.registry.clone();
            // Collectors read partition state (and sometimes a log); keep that off the async workers.
            let text = tokio::task::spawn_blocking(move || registry.render()).await.unwrap_or_default();
            response(200, "text/plain; version=0.0.4; charset=utf-8", &text, head_only)
        }
        "/health/live" => response(200, "text/plain", "ok\n", head_only),
        "/health/ready" => match (endpoints.ready)() {
            Ok(()) => response(200, "text/plain", "ready\n", head_only),
            Err(reason) => response(503, "text/plain", &format!("not ready: {reason}\n"), head_only),
        },
        "/" => response(200, "text/plain", "strom: /metrics /health/live /health/ready\n", head_only),
        _ => response(404, "text/plain", "not found\n", head_only),
    }
}

fn response(status: u16, content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    async fn get(addr: std::net::SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // The server may close early (oversized head): a failed write or a reset read is an answer.
        let _ = stream.write_all(request.as_bytes()).await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_metrics_and_health() {
        let registry = Registry::new();
        registry.counter("strom_http_test_total", "Test.", &[]).increment(2);
        let ready = Arc::new(AtomicBool::new(false));
        let flag = ready.clone();
        let endpoints = HttpEndpoints {
            registry,
            ready: Arc::new(
                move || if flag.load(Ordering::SeqCst) { Ok(()) } else { Err("starting".into()) },
            ),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (_stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, endpoints, stop_rx));

        let metrics = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(metrics.contains("strom_http_test_total 2"), "{metrics}");
        assert!(get(addr, "GET /health/live HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 200"));
        let not_ready = get(addr, "GET /health/ready HTTP/1.1\r\n\r\n").await;
        assert!(not_ready.starts_with("HTTP/1.1 503") && not_ready.ends_with("not ready: starting\n"));
        ready.store(true, Ordering::SeqCst);
        assert!(get(addr, "GET /health/ready HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "GET /nope HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 404"));
        assert!(get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 405"));
        // An oversized head is dropped without an answer; the server keeps serving.
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(get(addr, &huge).await, "");
        assert!(get(addr, "GET /health/live HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 200"));
    }
}
