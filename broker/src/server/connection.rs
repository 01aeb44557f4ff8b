//! One client connection: a reader task decodes frames ahead (pipelining), the connection task
//! handles them one at a time and writes responses in request order, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::frame::{FrameError, read_frame};
use crate::handlers::{self, Outcome};
use crate::state::BrokerState;

/// Frames read ahead of the one being handled.
const PIPELINE_DEPTH: usize = 16;

/// Serves one connection, accepted on the listener named `listener_name`, until the peer closes it
/// or sends something that cannot be answered.
pub async fn serve(state: Arc<BrokerState>, stream: TcpStream, peer: SocketAddr, listener_name: Arc<str>) {
    let _ = stream.set_nodelay(true);
    let _counted = state.metrics.connection_opened();
    let (mut read_half, mut write_half) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
    let max = state.config.socket_request_max_bytes;
    let reader = tokio::spawn(async move {
        loop {
            match read_frame(&mut read_half, max).await {
                Ok(frame) => {
                    if tx.send(frame).await.is_err() {
                        return;
                    }
                }
                Err(FrameError::Closed) => return,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection");
                    return;
                }
            }
        }
    });
    while let Some(frame) = rx.recv().await {
        let (api_key, started) = (crate::metrics::frame_api_key(&frame), std::time::Instant::now());
        let outcome = handlers::handle(&state, frame, Some(peer), &listener_name).await;
        if let Some(api_key) = api_key {
            state.metrics.observe_request(api_key, started.elapsed().as_secs_f64());
        }
        match outcome {
            Outcome::Respond(response) => {
                if let Err(e) = write_half.write_all(&response).await {
                    tracing::debug!(%peer, error = %e, "write failed");
                    break;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, %reason, "closing connection after malformed request");
                break;
            }
        }
    }
    reader.abort();
    let _ = write_half.shutdown().await;
}
