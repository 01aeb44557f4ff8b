//! Who leads a partition: a raw Kafka Metadata v9 request (naming the topic, auto-creation off) to
//! each broker over a blocking `TcpStream` with short deadlines, keeping the answer with the highest
//! `leader_epoch` (a broker's metadata image may lag the controller's).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, ensure};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// Metadata version: v7+ carries `leader_epoch`, v4+ `allow_auto_topic_creation`.
const VERSION: i16 = 9;
/// Connect deadline per broker.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Read/write deadline per broker.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest response accepted.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The leader of `topic`/`partition` with the highest `leader_epoch` among the answers of `brokers`;
/// `None` if no broker answers with a leader.
pub fn partition_leader(brokers: &[SocketAddr], topic: &str, partition: i32) -> Option<i32> {
    brokers
        .iter()
        .filter_map(|addr| match leader_seen_by(*addr, topic, partition) {
            Ok(found) => found,
            Err(err) => {
                tracing::debug!(%addr, topic, partition, error = %format!("{err:#}"), "metadata request failed");
                None
            }
        })
        .max()
        .map(|(_, leader)| leader)
}

/// `(leader_epoch, leader_id)` of the partition as the broker at `addr` sees it, if it knows a leader.
fn leader_seen_by(addr: SocketAddr, topic: &str, partition: i32) -> anyhow::Result<Option<(i32, i32)>> {
    let name = TopicName(StrBytes::from_string(topic.to_string()));
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(name))]))
        .with_allow_auto_topic_creation(false);
    let response = call(addr, &request)?;
    let found = response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
        .flat_map(|t| t.partitions.iter())
        .find(|p| p.partition_index == partition && p.error_code == 0 && p.leader_id.0 >= 0)
        .map(|p| (p.leader_epoch, p.leader_id.0));
    Ok(found)
}

/// Sends one request on a fresh connection and decodes the answer.
fn call<R: Request>(addr: SocketAddr, request: &R) -> anyhow::Result<R::Response> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("strom-chaos")));
    let mut payload = BytesMut::new();
    header.encode(&mut payload, R::header_version(VERSION))?;
    request.encode(&mut payload, VERSION)?;
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).context("connect")?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let len = u32::try_from(payload.len())?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(&payload)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).context("read response length")?;
    let len = u32::from_be_bytes(len) as usize;
    ensure!(len <= MAX_RESPONSE_BYTES, "implausible response length {len}");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).context("read response")?;
    let mut body = Bytes::from(body);
    let header = ResponseHeader::decode(&mut body, R::Response::header_version(VERSION))?;
    ensure!(header.correlation_id == 1, "correlation id {} in the response", header.correlation_id);
    R::Response::decode(&mut body, VERSION)
}
