//! A Kafka-protocol connection from this broker to another broker (the replica fetcher's transport):
//! one request in flight, responses size-checked before they are read.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Fetch version the fetcher speaks (has `last_fetched_epoch` and `diverging_epoch`).
pub const FETCH_VERSION: i16 = 12;

/// Largest response accepted from a peer.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// A peer request that failed: the connection is no longer usable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PeerError(pub String);

/// An open connection to a peer broker.
pub struct PeerConnection {
    stream: TcpStream,
    client_id: StrBytes,
    correlation_id: i32,
}

impl PeerConnection {
    /// Connects to `addr` (`host:port`) within `timeout`.
    pub async fn connect(addr: &str, client_id: String, timeout: Duration) -> Result<Self, PeerError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| PeerError(format!("connecting to {addr} timed out")))?
            .map_err(|e| PeerError(format!("connecting to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        Ok(Self { stream, client_id: StrBytes::from_string(client_id), correlation_id: 0 })
    }

    /// Sends a Fetch and waits (at most `timeout`) for its response.
    pub async fn fetch(
        &mut self,
        request: &FetchRequest,
        timeout: Duration,
    ) -> Result<FetchResponse, PeerError> {
        let key = ApiKey::Fetch;
        let version = FETCH_VERSION;
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let encoded = header
            .encode(&mut buf, key.request_header_version(version))
            .and_then(|()| request.encode(&mut buf, version));
        encoded.map_err(|e| PeerError(format!("encoding fetch: {e}")))?;
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        let mut frame = tokio::time::timeout(timeout, self.round_trip(&buf))
            .await
            .map_err(|_| PeerError("fetch timed out".into()))??;
        let response_header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .map_err(|e| PeerError(format!("decoding response header: {e}")))?;
        if response_header.correlation_id != self.correlation_id {
            return Err(PeerError(format!(
                "correlation id {} does not match {}",
                response_header.correlation_id, self.correlation_id
            )));
        }
        let response = FetchResponse::decode(&mut frame, version)
            .map_err(|e| PeerError(format!("decoding fetch: {e}")))?;
        if frame.has_remaining() {
            return Err(PeerError("trailing bytes after fetch response".into()));
        }
        Ok(response)
    }

    async fn round_trip(&mut self, request: &[u8]) -> Result<Bytes, PeerError> {
        let io = |e: std::io::Error| PeerError(format!("peer connection: {e}"));
        self.stream.write_all(request).await.map_err(io)?;
        let size = self.stream.read_i32().await.map_err(io)?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_RESPONSE_BYTES)
            .ok_or_else(|| PeerError(format!("response size {size} out of bounds")))?;
        let mut frame = vec![0u8; size];
        self.stream.read_exact(&mut frame).await.map_err(io)?;
        Ok(Bytes::from(frame))
    }
}
