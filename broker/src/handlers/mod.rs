//! Request dispatch: header parsing, version checks, decoding with `kafka-protocol`, one handler per
//! Kafka API (one file each), response encoding with the right header version.
//!
//! A frame that cannot be decoded closes its connection (the caller logs it); it never panics and never
//! affects other connections.

mod admin_configs;
mod api_versions;
mod create_acls;
mod create_partitions;
mod create_topics;
mod delete_acls;
mod delete_records;
mod delete_topics;
mod describe_acls;
mod describe_cluster;
mod describe_log_dirs;
mod elect_leaders;
mod fetch;
mod find_coordinator;
mod group_admin;
mod group_membership;
mod init_producer_id;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod reassignments;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::state::BrokerState;

/// What the connection does after a request.
#[derive(Debug)]
pub enum Outcome {
    /// Write this complete frame (length prefix included).
    Respond(BytesMut),
    /// Nothing to send (produce with acks=0).
    NoResponse,
    /// Close the connection, logging the reason.
    Close(String),
}

/// APIs and version ranges this broker advertises in ApiVersions.
pub const SUPPORTED_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::AlterPartitionReassignments, 0, 0),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::ElectLeaders, 0, 2),
];

/// The advertised range for `key`.
pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED_APIS.iter().find(|(k, _, _)| *k == key).map(|(_, min, max)| (*min, *max))
}

/// Encodes a response frame: length, header, body.
fn encode_response(key: ApiKey, version: i16, correlation_id: i32, body: &ResponseKind) -> Outcome {
    let header_version = if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // Fetch responses carry megabytes of records: size the buffer once instead of growing it.
    let capacity = match body {
        ResponseKind::Fetch(fetch) => fetch.compute_size(version).unwrap_or(0) + 64,
        _ => 256,
    };
    let mut buf = BytesMut::with_capacity(capacity);
    buf.put_i32(0);
    if let Err(e) = header.encode(&mut buf, header_version) {
        return Outcome::Close(format!("encoding {key:?} v{version} response header: {e}"));
    }
    if let Err(e) = body.encode(&mut buf, version) {
        tracing::error!(api = ?key, version, error = %e, "response encoding failed");
        return Outcome::Close(format!("encoding {key:?} v{version} response: {e}"));
    }
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Outcome::Respond(buf)
}

/// A request frame after header parsing and decoding.
#[derive(Debug)]
pub enum Decoded {
    /// Ready for a handler.
    Request {
        /// API key.
        key: ApiKey,
        /// Request header.
        header: RequestHeader,
        /// Request body.
        body: Box<RequestKind>,
    },
    /// Answered without a handler (unsupported versions, legacy produce) or rejected.
    Done(Outcome),
}

/// Parses and decodes one request frame (without its length prefix). Never panics and never aborts
/// on hostile lengths when [`crate::alloc::ReservingAllocator`] is the global allocator.
pub fn decode(frame: Bytes) -> Decoded {
    if frame.len() < 8 {
        return Decoded::Done(Outcome::Close(format!(
            "request of {} bytes is shorter than a header",
            frame.len()
        )));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Ok(key) = ApiKey::try_from(raw_key) else {
        return Decoded::Done(Outcome::Close(format!("unknown api key {raw_key}")));
    };
    let Some((min, max)) = supported_range(key) else {
        return Decoded::Done(Outcome::Close(format!("unsupported api {key:?}")));
    };
    if version < min || version > max {
        if key == ApiKey::ApiVersions {
            let body = api_versions::unsupported_version_response();
            return Decoded::Done(encode_response(key, 0, correlation_id, &ResponseKind::ApiVersions(body)));
        }
        return Decoded::Done(Outcome::Close(format!("unsupported version {version} of {key:?}")));
    }
    if key == ApiKey::Produce && version < 3 {
        return Decoded::Done(produce::legacy_unsupported(frame, version, correlation_id));
    }
    let mut buf = frame;
    let header = match RequestHeader::decode(&mut buf, key.request_header_version(version)) {
        Ok(header) => header,
        Err(e) => {
            return Decoded::Done(Outcome::Close(format!(
                "malformed {key:?} v{version} request header: {e}"
            )));
        }
    };
    match RequestKind::decode(key, &mut buf, version) {
        Ok(body) => Decoded::Request { key, header, body: Box::new(body) },
        Err(e) => Decoded::Done(Outcome::Close(format!("malformed {key:?} v{version} request: {e}"))),
    }
}

/// Handles one request frame (without its length prefix) from `peer`, received on the listener named
/// `listener_name`.
pub async fn handle(
    state: &BrokerState,
    frame: Bytes,
    peer: Option<std::net::SocketAddr>,
    listener_name: &Arc<str>,
) -> Outcome {
    let (key, header, request) = match decode(frame) {
        Decoded::Request { key, header, body } => (key, header, *body),
        Decoded::Done(outcome) => return outcome,
    };
    let version = header.request_api_version;
    let correlation_id = header.correlation_id;
    let client_host = peer.map(|p| format!("/{}", p.ip())).unwrap_or_default();
    let ctx = RequestContext { header, version, client_host, listener_name: listener_name.clone() };
    tracing::trace!(api = ?key, version, correlation_id, "request");
    let response = match route(state, &ctx, request).await {
        Ok(Some(response)) => response,
        Ok(None) => return Outcome::NoResponse,
        Err(reason) => return Outcome::Close(reason),
    };
    encode_response(key, version, correlation_id, &response)
}

/// Per-request facts handlers may need.
pub struct RequestContext {
    /// The decoded request header.
    pub header: RequestHeader,
    /// API version of the request.
    pub version: i16,
    /// The client's address as group APIs report it (`/ip`), empty when unknown.
    pub client_host: String,
    /// Name of the listener the request came in on; Metadata, FindCoordinator and DescribeCluster
    /// answer with the brokers' endpoints of that listener.
    pub listener_name: Arc<str>,
}

async fn route(
    state: &BrokerState,
    ctx: &RequestContext,
    request: RequestKind,
) -> Result<Option<ResponseKind>, String> {
    let response = match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions::handle()),
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(state, ctx, r).await),
        RequestKind::Produce(r) => return Ok(produce::handle(state, r).await.map(ResponseKind::Produce)),
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(state, ctx, r).await),
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(list_offsets::handle(state, ctx, r)),
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(state, r))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(create_topics::handle(state, ctx, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(delete_topics::handle(state, ctx, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(create_partitions::handle(state, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(admin_configs::describe(state, ctx, r))
        }
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(admin_configs::alter(state, r).await),
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(admin_configs::incremental_alter(state, r).await)
        }
        RequestKind::DeleteRecords(r) => ResponseKind::DeleteRecords(delete_records::handle(state, r)),
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(state, ctx, r))
        }
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(describe_acls::handle(state, r)),
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(create_acls::handle(state, r).await),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(delete_acls::handle(state, r).await),
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(elect_leaders::handle(state, ctx, r).await)
        }
        RequestKind::DescribeLogDirs(r) => ResponseKind::DescribeLogDirs(describe_log_dirs::handle(state, r)),
        RequestKind::AlterPartitionReassignments(r) => {
            ResponseKind::AlterPartitionReassignments(reassignments::alter(state, r).await)
        }
        RequestKind::ListPartitionReassignments(r) => {
            ResponseKind::ListPartitionReassignments(reassignments::list(state, r))
        }
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(group_membership::join(state, ctx, r).await),
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(group_membership::sync(state, ctx, r).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(group_membership::heartbeat(state, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(group_membership::leave(state, ctx, r)),
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(group_admin::list(state, r)),
        RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(group_admin::describe(state, r)),
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(group_admin::delete(state, r).await),
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(group_admin::offset_delete(state, r).await)
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(state, ctx, r))
        }
        RequestKind::OffsetCommit(r) => ResponseKind::OffsetCommit(offset_commit::handle(state, r).await),
        RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(offset_fetch::handle(state, ctx, r)),
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(state, r).await)
        }
        _ => return Err(format!("no handler for api key {}", ctx.header.request_api_key)),
    };
    Ok(Some(response))
}
