//! A minimal Kafka wire client for broker tests: requests encoded by `kafka-protocol` as a client
//! would, responses decoded at the same version.

#![allow(dead_code)]

pub mod cluster;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to a broker.
pub struct KafkaConn {
    stream: TcpStream,
    correlation_id: i32,
}

impl KafkaConn {
    /// Connects to `addr`.
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self { stream: TcpStream::connect(addr).await.expect("connect"), correlation_id: 0 }
    }

    /// Sends `body` as `key` v`version` and returns the decoded response.
    pub async fn send(&mut self, key: ApiKey, version: i16, body: &RequestKind) -> ResponseKind {
        self.correlation_id += 1;
        let correlation_id = self.correlation_id;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("strom-test")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, key.request_header_version(version)).expect("header");
        body.encode(&mut buf, version).expect("body");
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.expect("write");
        let size = self.stream.read_i32().await.unwrap_or_else(|e| panic!("{key:?} v{version}: closed: {e}"));
        let mut frame = vec![0u8; size as usize];
        self.stream.read_exact(&mut frame).await.expect("read");
        let mut frame = Bytes::from(frame);
        let header_version =
            if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) };
        let header = ResponseHeader::decode(&mut frame, header_version).expect("response header");
        assert_eq!(header.correlation_id, correlation_id, "{key:?} v{version}");
        let response = ResponseKind::decode(key, &mut frame, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        assert!(!frame.has_remaining(), "{key:?} v{version}: trailing bytes");
        response
    }
}
