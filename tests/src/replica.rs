//! Replication checks from outside the brokers: a partition's leader and ISR as a broker's Metadata
//! response reports them, and a replica's log as the batches in its segment files on disk.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::wire::Connection;

/// How long a state query may wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One partition as a broker's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Leader broker id (-1: offline).
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
}

/// `topic`/`partition` per a Metadata v12 request to the broker at `addr`; `None` if it cannot be
/// reached or does not know the partition.
pub async fn partition_state(addr: SocketAddr, topic: &str, partition: i32) -> Option<PartitionState> {
    let mut connection = Connection::try_connect(addr, CONNECT_TIMEOUT).await?;
    let name = TopicName(StrBytes::from_string(topic.to_string()));
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(name))]))
        .with_allow_auto_topic_creation(false);
    let response = tokio::time::timeout(Duration::from_secs(5), connection.call(12, &request)).await.ok()?;
    let topic = response.topics.first().filter(|t| t.error_code == 0)?;
    let p = topic.partitions.iter().find(|p| p.partition_index == partition)?;
    Some(PartitionState {
        leader: p.leader_id.0,
        leader_epoch: p.leader_epoch,
        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
    })
}

/// The bytes of every record batch of `topic`-`partition` in the broker data directory `data_dir` whose
/// base offset is below `below`, in offset order, read from the segment files (`*.log`).
pub fn log_batches(data_dir: &Path, topic: &str, partition: i32, below: i64) -> Vec<u8> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    segments.retain(|p| p.extension().is_some_and(|e| e == "log"));
    segments.sort();
    let mut out = Vec::new();
    for segment in segments {
        let bytes = std::fs::read(&segment).unwrap_or_default();
        let mut position = 0;
        while position + 12 <= bytes.len() {
            let base_offset = i64::from_be_bytes(bytes[position..position + 8].try_into().expect("8 bytes"));
            let length = i32::from_be_bytes(bytes[position + 8..position + 12].try_into().expect("4 bytes"));
            let end = position + 12 + usize::try_from(length).unwrap_or(0);
            if base_offset >= below || end > bytes.len() || length <= 0 {
                return out;
            }
            out.extend_from_slice(&bytes[position..end]);
            position = end;
        }
    }
    out
}

/// The broker coordinating `group`, per FindCoordinator v3 to the broker at `addr`.
pub async fn group_coordinator(addr: SocketAddr, group: &str) -> Option<i32> {
    use kafka_protocol::messages::FindCoordinatorRequest;
    let mut connection = Connection::try_connect(addr, CONNECT_TIMEOUT).await?;
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string()));
    let response = tokio::time::timeout(Duration::from_secs(5), connection.call(3, &request)).await.ok()?;
    (response.error_code == 0).then_some(response.node_id.0)
}
