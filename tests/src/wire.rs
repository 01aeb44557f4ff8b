//! Raw Kafka protocol over TCP for tests that need exact control of what goes on the wire: framing,
//! request encoding with `kafka-protocol`, and hand-built v2 record batches.
//!
//! Every read has a deadline ([`IO_TIMEOUT`]): a broker that neither answers nor closes fails the
//! test instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a broker may take to answer a request or close the connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response frame a test accepts before calling the length implausible.
const MAX_RESPONSE_BYTES: i32 = 64 * 1024 * 1024;

/// What the broker did with what was sent.
#[derive(Debug)]
pub enum Outcome {
    /// The connection was closed (EOF or reset) without a (complete) response.
    Closed,
    /// One response frame, without its length prefix.
    Response(Bytes),
}

/// Header + body of a request, without the length prefix.
pub fn encode_request<R: Request>(version: i16, correlation_id: i32, request: &R) -> BytesMut {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("strom-tests")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, R::header_version(version)).expect("encode request header");
    request.encode(&mut buf, version).expect("encode request body");
    buf
}

/// Prefixes `payload` with its i32 length.
pub fn frame(payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::with_capacity(payload.len() + 4);
    buf.put_i32(i32::try_from(payload.len()).expect("frame fits i32"));
    buf.put_slice(payload);
    buf
}

/// Splits a response frame into its correlation id and body.
pub fn split_response(mut frame: Bytes, header_version: i16) -> (i32, Bytes) {
    let header = ResponseHeader::decode(&mut frame, header_version).expect("decode response header");
    (header.correlation_id, frame)
}

/// One TCP connection to a broker.
pub struct Connection {
    stream: TcpStream,
    next_correlation_id: i32,
}

impl Connection {
    /// Connects (with [`IO_TIMEOUT`]).
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect to broker");
        Self { stream, next_correlation_id: 1 }
    }

    /// Connects within `timeout`; `None` if the broker cannot be reached.
    pub async fn try_connect(addr: SocketAddr, timeout: Duration) -> Option<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr)).await.ok()?.ok()?;
        Some(Self { stream, next_correlation_id: 1 })
    }

    /// Writes raw bytes; `false` if the broker already closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Reads one response frame or reports the connection closed; panics if neither happens within
    /// [`IO_TIMEOUT`].
    pub async fn read_frame(&mut self) -> Outcome {
        let stream = &mut self.stream;
        let read = async {
            let mut len = [0u8; 4];
            if stream.read_exact(&mut len).await.is_err() {
                return Outcome::Closed;
            }
            let len = i32::from_be_bytes(len);
            assert!((0..=MAX_RESPONSE_BYTES).contains(&len), "implausible response frame length {len}");
            let mut body = vec![0u8; len as usize];
            if stream.read_exact(&mut body).await.is_err() {
                return Outcome::Closed;
            }
            Outcome::Response(Bytes::from(body))
        };
        tokio::time::timeout(IO_TIMEOUT, read)
            .await
            .expect("broker neither answered nor closed the connection")
    }

    /// Writes raw bytes and reads the outcome.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Outcome {
        if !self.write(bytes).await {
            return Outcome::Closed;
        }
        self.read_frame().await
    }

    /// Sends `request` at `version` and decodes its response; panics if the connection closes or the
    /// correlation id does not match.
    pub async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let bytes = frame(&encode_request(version, correlation_id, request));
        let Outcome::Response(response) = self.send_raw(&bytes).await else {
            panic!("connection closed instead of answering API key {} v{version}", R::KEY);
        };
        let (got, mut body) = split_response(response, R::Response::header_version(version));
        assert_eq!(got, correlation_id, "correlation id of the response to API key {}", R::KEY);
        R::Response::decode(&mut body, version).expect("decode response body")
    }
}

/// One record of a hand-built batch.
#[derive(Debug, Clone, Default)]
pub struct BatchRecord {
    /// Record key.
    pub key: Option<Vec<u8>>,
    /// Record value.
    pub value: Option<Vec<u8>>,
}

impl BatchRecord {
    /// A record with a key and a value.
    pub fn new(key: &[u8], value: &[u8]) -> Self {
        Self { key: Some(key.to_vec()), value: Some(value.to_vec()) }
    }
}

/// An uncompressed v2 record batch to build by hand.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// `producerId`, -1 for none.
    pub producer_id: i64,
    /// `producerEpoch`, -1 for none.
    pub producer_epoch: i16,
    /// `baseSequence`, -1 for none.
    pub base_sequence: i32,
    /// `baseTimestamp` (every record has timestamp delta 0).
    pub timestamp: i64,
    /// The records.
    pub records: Vec<BatchRecord>,
    /// Written as `recordsCount` instead of the real count (the CRC still matches).
    pub records_count_override: Option<i32>,
}

impl BatchSpec {
    /// A non-idempotent batch of `records`.
    pub fn plain(records: Vec<BatchRecord>) -> Self {
        Self {
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            timestamp: 1_700_000_000_000,
            records,
            records_count_override: None,
        }
    }

    /// An idempotent batch of `records` from `producer_id`/`producer_epoch` at `base_sequence`.
    pub fn idempotent(
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        records: Vec<BatchRecord>,
    ) -> Self {
        Self { producer_id, producer_epoch, base_sequence, ..Self::plain(records) }
    }

    /// Encodes the batch (base offset 0, as a producer sends it) with a correct CRC-32C.
    pub fn encode(&self) -> Bytes {
        let mut records = BytesMut::new();
        for (delta, record) in self.records.iter().enumerate() {
            let mut body = BytesMut::new();
            body.put_u8(0); // attributes
            put_varint(&mut body, 0); // timestamp delta
            put_varint(&mut body, delta as i64); // offset delta
            put_varbytes(&mut body, record.key.as_deref());
            put_varbytes(&mut body, record.value.as_deref());
            put_varint(&mut body, 0); // no headers
            put_varint(&mut records, body.len() as i64);
            records.put_slice(&body);
        }
        let count = self.records_count_override.unwrap_or(self.records.len() as i32);

        // From attributes to the end: what the CRC covers.
        let mut tail = BytesMut::new();
        tail.put_i16(0); // attributes: no compression, CreateTime, not transactional
        tail.put_i32(self.records.len().saturating_sub(1) as i32); // last offset delta
        tail.put_i64(self.timestamp); // base timestamp
        tail.put_i64(self.timestamp); // max timestamp
        tail.put_i64(self.producer_id);
        tail.put_i16(self.producer_epoch);
        tail.put_i32(self.base_sequence);
        tail.put_i32(count);
        tail.put_slice(&records);

        let mut batch = BytesMut::new();
        batch.put_i64(0); // base offset
        batch.put_i32((4 + 1 + 4 + tail.len()) as i32); // batch length: leader epoch, magic, crc, tail
        batch.put_i32(-1); // partition leader epoch
        batch.put_i8(2); // magic
        batch.put_u32(crc32c::crc32c(&tail));
        batch.put_slice(&tail);
        batch.freeze()
    }
}

/// Zigzag varint (Kafka's record fields).
fn put_varint(buf: &mut BytesMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_varbytes(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(buf, -1),
        Some(bytes) => {
            put_varint(buf, bytes.len() as i64);
            buf.put_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_zigzag() {
        let mut buf = BytesMut::new();
        for v in [0i64, -1, 1, 63, -64, 64, 300] {
            put_varint(&mut buf, v);
        }
        assert_eq!(&buf[..], &[0x00, 0x01, 0x02, 0x7e, 0x7f, 0x80, 0x01, 0xd8, 0x04]);
    }

    #[test]
    fn batch_decodes_with_kafka_protocol() {
        let spec = BatchSpec::idempotent(
            7,
            1,
            5,
            vec![BatchRecord::new(b"k1", b"v1"), BatchRecord::new(b"k2", b"v2")],
        );
        let mut bytes = spec.encode();
        let records = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).expect("decode batch");
        let records = records.records;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].key.as_deref(), Some(&b"k2"[..]));
        assert_eq!(records[1].value.as_deref(), Some(&b"v2"[..]));
        assert_eq!((records[0].producer_id, records[0].producer_epoch, records[0].sequence), (7, 1, 5));
        assert_eq!(records[1].sequence, 6);
    }
}
