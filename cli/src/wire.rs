//! A minimal Kafka wire client for the requests librdkafka's admin API lacks (ElectLeaders): requests
//! encoded by `kafka-protocol`, one at a time on one PLAINTEXT connection, versions negotiated with
//! ApiVersions. Works against Strom and Apache Kafka alike.
//!
//! ```text
//!  connect_any(bootstrap) ─► TCP ─► ApiVersions v0 ─► WireConn { broker's version ranges }
//!  WireConn::send(key, version, body) ─► [len][header][body] ─► [len][header][body] ─► ResponseKind
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, MetadataRequest, MetadataResponse, RequestHeader, RequestKind,
    ResponseHeader, ResponseKind, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response frame accepted (a hostile or confused peer cannot make us allocate more).
const MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// One connection to a broker, with the API versions it supports.
pub struct WireConn {
    addr: String,
    stream: TcpStream,
    correlation_id: i32,
    timeout: Duration,
    versions: BTreeMap<i16, (i16, i16)>,
}

impl WireConn {
    /// Connects to `addr` (`host:port`) and asks for its API versions; `timeout` bounds every step.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow::anyhow!("connecting to {addr}: timed out after {timeout:?}"))?
            .with_context(|| format!("connecting to {addr}"))?;
        let _ = stream.set_nodelay(true);
        let mut conn =
            Self { addr: addr.to_string(), stream, correlation_id: 0, timeout, versions: BTreeMap::new() };
        let body = RequestKind::ApiVersions(ApiVersionsRequest::default());
        let ResponseKind::ApiVersions(response) = conn.send(ApiKey::ApiVersions, 0, &body).await? else {
            bail!("{addr}: unexpected response to ApiVersions");
        };
        if response.error_code != 0 {
            bail!("{addr}: ApiVersions failed: {}", error_name(response.error_code));
        }
        conn.versions =
            response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(conn)
    }

    /// The broker's address as connected.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The highest version of `key` both sides support, given ours as `[min, max]`.
    pub fn version(&self, key: ApiKey, min: i16, max: i16) -> Option<i16> {
        let (theirs_min, theirs_max) = *self.versions.get(&(key as i16))?;
        let version = max.min(theirs_max);
        (version >= min.max(theirs_min)).then_some(version)
    }

    /// Sends `body` as `key` v`version` and returns the decoded response.
    pub async fn send(&mut self, key: ApiKey, version: i16, body: &RequestKind) -> Result<ResponseKind> {
        let what = format!("{key:?} v{version} to {}", self.addr);
        tokio::time::timeout(self.timeout, self.round_trip(key, version, body))
            .await
            .map_err(|_| anyhow::anyhow!("{what}: no response within {:?}", self.timeout))?
            .with_context(|| what)
    }

    async fn round_trip(&mut self, key: ApiKey, version: i16, body: &RequestKind) -> Result<ResponseKind> {
        self.correlation_id += 1;
        let correlation_id = self.correlation_id;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("strom-cli")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, key.request_header_version(version)).context("encoding the header")?;
        body.encode(&mut buf, version).context("encoding the request")?;
        let len = i32::try_from(buf.len() - 4).context("request too large")?;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.context("writing the request")?;
        let size = self.stream.read_i32().await.context("reading the response size")?;
        let size = usize::try_from(size).ok().filter(|s| *s <= MAX_FRAME_BYTES);
        let Some(size) = size else { bail!("response frame size out of range") };
        let mut frame = vec![0u8; size];
        self.stream.read_exact(&mut frame).await.context("reading the response")?;
        let mut frame = Bytes::from(frame);
        let header_version =
            if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) };
        let header = ResponseHeader::decode(&mut frame, header_version).context("decoding the header")?;
        if header.correlation_id != correlation_id {
            bail!("correlation id {} does not match {correlation_id}", header.correlation_id);
        }
        let response = ResponseKind::decode(key, &mut frame, version).context("decoding the response")?;
        if frame.has_remaining() {
            bail!("{} unexpected bytes after the response", frame.remaining());
        }
        Ok(response)
    }
}

/// Metadata (v1–12, no auto-creation) for `topics`, or for every topic with `None`.
pub async fn metadata(conn: &mut WireConn, topics: Option<&[String]>) -> Result<MetadataResponse> {
    let version = conn
        .version(ApiKey::Metadata, 1, 12)
        .with_context(|| format!("{} does not support Metadata v1+", conn.addr()))?;
    let topics = topics.map(|names| {
        names
            .iter()
            .map(|t| {
                MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
            })
            .collect()
    });
    let mut request = MetadataRequest::default().with_topics(topics);
    if version >= 4 {
        request = request.with_allow_auto_topic_creation(false);
    }
    match conn.send(ApiKey::Metadata, version, &RequestKind::Metadata(request)).await? {
        ResponseKind::Metadata(response) => Ok(response),
        _ => bail!("unexpected response to Metadata"),
    }
}

/// Connects to the first reachable server of a comma-separated bootstrap list.
pub async fn connect_any(bootstrap: &str, timeout: Duration) -> Result<WireConn> {
    let mut last = None;
    for addr in bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match WireConn::connect(addr, timeout).await {
            Ok(conn) => return Ok(conn),
            Err(e) => {
                tracing::debug!(addr, error = %e, "bootstrap server not reachable");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no bootstrap server given")))
}

/// Kafka's name of a wire error code: `ELECTION_NOT_NEEDED`, `UNKNOWN_SERVER_ERROR`, `NONE` for 0,
/// `UNKNOWN_ERROR_CODE_<n>` for codes this client does not know.
pub fn error_name(code: i16) -> String {
    use kafka_protocol::ResponseError;
    match ResponseError::try_from_code(code) {
        None => "NONE".into(),
        Some(ResponseError::Unknown(code)) => format!("UNKNOWN_ERROR_CODE_{code}"),
        Some(error) => {
            let camel = error.to_string();
            let mut name = String::with_capacity(camel.len() + 8);
            for (i, ch) in camel.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    name.push('_');
                }
                name.push(ch.to_ascii_uppercase());
            }
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_follow_kafka_spelling() {
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(84), "ELECTION_NOT_NEEDED");
        assert_eq!(error_name(80), "PREFERRED_LEADER_NOT_AVAILABLE");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_name(9999), "UNKNOWN_ERROR_CODE_9999");
    }

    #[tokio::test]
    async fn unreachable_bootstrap_fails_with_the_last_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = connect_any(&format!(" ,{addr}"), Duration::from_secs(2)).await.err().expect("refused");
        assert!(format!("{err:#}").contains(&addr.to_string()), "{err:#}");
        assert!(connect_any("", Duration::from_secs(1)).await.is_err());
    }
}
